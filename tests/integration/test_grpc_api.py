"""netledger.v1 over a real grpcio client against a real API process (and REST beside it)."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from netledger.services.grpc_api.gen import netledger_v1_pb2 as pb
from netledger.services.grpc_api.gen import netledger_v1_pb2_grpc as pb_grpc
from tests.support import destroy_stack, free_port, start_stack


@pytest.fixture(scope="module")
def grpc_stack(nats_server):
    port = free_port()
    s = start_stack(nats_server, extra_env={"NETLEDGER_GRPC_PORT": str(port)})
    s.grpc_target = f"127.0.0.1:{port}"
    try:
        yield s
    finally:
        destroy_stack(s)


@pytest.fixture
def channel(grpc_stack):
    with grpc.insecure_channel(grpc_stack.grpc_target) as ch:
        grpc.channel_ready_future(ch).result(timeout=30)
        yield ch


def struct(d: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(d)
    return s


def as_dict(s) -> dict:
    return json_format.MessageToDict(s)


def meta(project: str, admin: bool = False):
    return (("x-project-id", project),) + ((("x-roles", "admin"),) if admin else ())


def test_health_and_reflection_are_served(channel):
    health = health_pb2_grpc.HealthStub(channel)
    assert health.Check(health_pb2.HealthCheckRequest(service="")).status == health_pb2.HealthCheckResponse.SERVING
    assert health.Check(health_pb2.HealthCheckRequest(service="netledger.v1.Ports")).status == \
        health_pb2.HealthCheckResponse.SERVING


def test_rest_and_grpc_see_the_same_port(grpc_stack, channel):
    project = "p" + uuid.uuid4().hex[:8]
    rest = grpc_stack.api.as_project(project)
    md = meta(project)
    nets = pb_grpc.NetworksStub(channel)
    ports = pb_grpc.PortsStub(channel)
    net = as_dict(nets.Create(pb.CreateRequest(body=struct({"name": "g-net"})), metadata=md).body)
    assert net["project_id"] == project and net["status"] == "ACTIVE"
    sub = pb_grpc.SubnetsStub(channel).Create(pb.CreateRequest(body=struct(
        {"network_id": net["id"], "cidr": "10.44.0.0/24", "ip_version": 4})), metadata=md)
    assert as_dict(sub.body)["ip_version"] == 4
    # REST -> gRPC
    rest_port = rest.create("port", network_id=net["id"], name="from-rest")
    got = as_dict(ports.Get(pb.GetRequest(id=rest_port["id"]), metadata=md).body)
    assert got["fixed_ips"] == rest_port["fixed_ips"] and got["mac_address"] == rest_port["mac_address"]
    # gRPC -> REST
    g_port = as_dict(ports.Create(pb.CreateRequest(body=struct({"network_id": net["id"], "name": "from-grpc"})),
                                  metadata=md).body)
    status, body = rest.get(f"/v2.0/ports/{g_port['id']}")
    assert status == 200 and body["port"]["name"] == "from-grpc"
    listed = ports.List(pb.ListRequest(query=[pb.QueryParam(name="network_id", value=net["id"])]), metadata=md)
    assert sorted(as_dict(i)["name"] for i in listed.items) == ["from-grpc", "from-rest"]
    updated = ports.Update(pb.UpdateRequest(id=g_port["id"], body=struct({"name": "renamed"})), metadata=md)
    assert as_dict(updated.body)["name"] == "renamed"
    assert rest.get(f"/v2.0/ports/{g_port['id']}")[1]["port"]["name"] == "renamed"
    ports.Delete(pb.DeleteRequest(id=g_port["id"]), metadata=md)
    assert rest.get(f"/v2.0/ports/{g_port['id']}")[0] == 404


def _code(call) -> tuple[grpc.StatusCode, dict]:
    with pytest.raises(grpc.RpcError) as err:
        call()
    trailing = dict(err.value.trailing_metadata() or ())
    return err.value.code(), trailing


def test_neutron_errors_map_to_status_codes(grpc_stack, channel):
    project = "p" + uuid.uuid4().hex[:8]
    md = meta(project)
    nets = pb_grpc.NetworksStub(channel)
    ports = pb_grpc.PortsStub(channel)
    code, trailing = _code(lambda: ports.Get(pb.GetRequest(id=str(uuid.uuid4())), metadata=md))
    assert code == grpc.StatusCode.NOT_FOUND and "PortNotFound" in trailing["neutron-error"]
    code, _ = _code(lambda: nets.Create(pb.CreateRequest(body=struct({"admin_state_up": "maybe"})), metadata=md))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    net = as_dict(nets.Create(pb.CreateRequest(body=struct({"name": "e"})), metadata=md).body)
    pb_grpc.SubnetsStub(channel).Create(pb.CreateRequest(body=struct(
        {"network_id": net["id"], "cidr": "10.45.0.0/24", "ip_version": 4})), metadata=md)
    p1 = as_dict(ports.Create(pb.CreateRequest(body=struct({"network_id": net["id"]})), metadata=md).body)
    ip = p1["fixed_ips"][0]["ip_address"]
    code, trailing = _code(lambda: ports.Create(pb.CreateRequest(body=struct(
        {"network_id": net["id"], "fixed_ips": [{"ip_address": ip}]})), metadata=md))
    assert code == grpc.StatusCode.ALREADY_EXISTS and "IpAddressAlreadyAllocated" in trailing["neutron-error"]
    code, _ = _code(lambda: nets.Delete(pb.DeleteRequest(id=net["id"]), metadata=md))
    assert code == grpc.StatusCode.FAILED_PRECONDITION    # NetworkInUse
    rev = int(p1["revision_number"])
    code, _ = _code(lambda: ports.Update(pb.UpdateRequest(id=p1["id"], body=struct({"name": "x"}),
                                                          if_match=f"revision_number={rev + 5}"), metadata=md))
    assert code == grpc.StatusCode.ABORTED
    # another project's network is not visible; a member cannot create a shared network
    code, _ = _code(lambda: nets.Get(pb.GetRequest(id=net["id"]), metadata=meta("other" + project)))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = _code(lambda: nets.Create(pb.CreateRequest(body=struct({"shared": True})), metadata=md))
    assert code == grpc.StatusCode.PERMISSION_DENIED


def _take(stream, n: int) -> list:
    out = []
    for change in stream:
        out.append(change)
        if len(out) == n:
            break
    return out


def test_watch_replays_history_then_follows_and_resumes(grpc_stack, channel):
    project = "w" + uuid.uuid4().hex[:8]
    rest = grpc_stack.api.as_project(project)
    events = pb_grpc.EventsStub(channel)
    net = rest.create("network", name="w-net")
    rest.create("subnet", network_id=net["id"], cidr="10.46.0.0/24", ip_version=4)
    before = [rest.create("port", network_id=net["id"], name=f"h{i}")["id"] for i in range(3)]
    stream = events.Watch(pb.WatchRequest(kinds=["port"], project=project, from_seq=0), metadata=meta(project),
                          timeout=60)
    history = _take(stream, 3)
    assert [c.id for c in history] == before and {c.type for c in history} == {"PortCreated"}
    live = [rest.create("port", network_id=net["id"], name=f"l{i}")["id"] for i in range(2)]
    followed = _take(stream, 2)
    assert [c.id for c in followed] == live
    seqs = [c.seq for c in history + followed]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    stream.cancel()
    # Written while nobody watched: a reconnect with the last seq gets exactly these.
    rest.put(f"/v2.0/ports/{live[0]}", {"port": {"name": "renamed"}})
    gone = rest.delete(f"/v2.0/ports/{before[0]}")
    assert gone[0] == 204
    again = events.Watch(pb.WatchRequest(kinds=["port"], project=project, from_seq=seqs[-1]),
                         metadata=meta(project), timeout=60)
    resumed = _take(again, 2)
    assert [(c.type, c.id) for c in resumed] == [("PortUpdated", live[0]), ("PortDeleted", before[0])]
    assert all(c.seq > seqs[-1] for c in resumed) and resumed[1].project_id == project
    last = rest.create("port", network_id=net["id"], name="after")["id"]
    assert [c.id for c in _take(again, 1)] == [last]    # nothing twice: the next one is the new write
    again.cancel()


def test_watch_is_scoped_to_the_callers_project(grpc_stack, channel):
    mine, other = "m" + uuid.uuid4().hex[:8], "o" + uuid.uuid4().hex[:8]
    events = pb_grpc.EventsStub(channel)
    code, _ = _code(lambda: _take(events.Watch(pb.WatchRequest(project=other), metadata=meta(mine), timeout=30), 1))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    grpc_stack.api.as_project(other).create("network", name="theirs")
    own = grpc_stack.api.as_project(mine).create("network", name="mine")
    stream = events.Watch(pb.WatchRequest(kinds=["network"]), metadata=meta(mine), timeout=60)
    first = _take(stream, 1)[0]
    assert first.id == own["id"] and first.project_id == mine
    stream.cancel()
