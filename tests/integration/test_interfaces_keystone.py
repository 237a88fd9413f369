"""gRPC and bus commands behind a real Keystone: the REST API's authentication, as is."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import uuid

import grpc
import nats
import pytest
from google.protobuf import json_format

from netledger.services.grpc_api.gen import netledger_v1_pb2 as pb
from netledger.services.grpc_api.gen import netledger_v1_pb2_grpc as pb_grpc
from tests.keystone import fixture as ksfix
from tests.keystone.directory import Directory
from tests.support import Stack, free_port, wait_http

PASSWORD = "pw-" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def keystone():
    try:
        ks = ksfix.start(free_port())
    except ksfix.KeystoneUnavailable as exc:
        pytest.skip(f"Keystone could not be installed or started: {exc}")
    try:
        yield ks
    finally:
        ks.stop()


@pytest.fixture(scope="module")
def directory(keystone):
    d = Directory(keystone, PASSWORD)
    d.tag = uuid.uuid4().hex[:6]
    for p in ("alpha", "service"):
        d.project(f"{p}-{d.tag}")
    d.user(f"alice-{d.tag}", f"alpha-{d.tag}", "member")
    d.user(f"neutron-{d.tag}", f"service-{d.tag}", "service" if "service" in d.roles else "admin")
    return d


@pytest.fixture(scope="module")
def ks_stack(nats_server, keystone, directory):
    port, gport = free_port(), free_port()
    workdir = tempfile.mkdtemp(prefix="nl-ksi-")
    env = {**os.environ, "NETLEDGER_VAR_DIR": workdir, "NETLEDGER_AUTH_STRATEGY": "keystone",
           "NETLEDGER_KEYSTONE_URL": keystone.url, "NETLEDGER_KEYSTONE_SERVICE_USER": f"neutron-{directory.tag}",
           "NETLEDGER_KEYSTONE_SERVICE_PASSWORD": PASSWORD,
           "NETLEDGER_KEYSTONE_SERVICE_PROJECT": f"service-{directory.tag}", "NETLEDGER_GRPC_PORT": str(gport)}
    stack = Stack(nats_url=nats_server, prefix="ki" + uuid.uuid4().hex[:8], workdir=workdir,
                  api_urls=[f"http://127.0.0.1:{port}"], env=env)
    stack.spawn("topology", ["topology"])
    stack.spawn("api0", ["api", "--port", str(port)])
    try:
        wait_http(stack.api_urls[0] + "/")
        stack.grpc_target = f"127.0.0.1:{gport}"
        yield stack
    finally:
        stack.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def alice(keystone, directory) -> tuple[str, str]:
    token, body = keystone.token(f"alice-{directory.tag}", PASSWORD, f"alpha-{directory.tag}")
    return token, directory.projects[f"alpha-{directory.tag}"]


def test_grpc_takes_the_keystone_token_in_metadata(ks_stack, alice):
    token, project = alice
    with grpc.insecure_channel(ks_stack.grpc_target) as ch:
        grpc.channel_ready_future(ch).result(timeout=30)
        nets = pb_grpc.NetworksStub(ch)
        for md in ((), (("x-auth-token", "not-a-token"),)):
            with pytest.raises(grpc.RpcError) as err:
                nets.List(pb.ListRequest(), metadata=md)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        md = (("x-auth-token", token),)
        net = json_format.MessageToDict(nets.Create(pb.CreateRequest(body={"name": "ks-g"}), metadata=md).body)
        assert net["project_id"] == project
        events = pb_grpc.EventsStub(ch)
        with pytest.raises(grpc.RpcError) as err:
            next(iter(events.Watch(pb.WatchRequest(kinds=["network"]), timeout=20)))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        stream = events.Watch(pb.WatchRequest(kinds=["network"]), metadata=md, timeout=30)
        (first,) = list(itertools.islice(stream, 1))
        assert first.id == net["id"] and first.project_id == project
        stream.cancel()


async def test_bus_commands_take_the_keystone_token_in_a_header(ks_stack, alice):
    token, project = alice
    nc = await nats.connect(ks_stack.nats_url)
    try:
        subject = f"{ks_stack.prefix}.cmd.networks.create"
        body = json.dumps({"network": {"name": "ks-bus"}}).encode()
        msg = await nc.request(subject, body, timeout=15)
        assert msg.headers["Neutron-Status"] == "401"
        msg = await nc.request(subject, body, timeout=15, headers={"X-Auth-Token": token})
        assert msg.headers["Neutron-Status"] == "201"
        assert json.loads(msg.data)["network"]["project_id"] == project
    finally:
        await nc.close()
