"""Commands on NATS (request/reply) against a real API process and nats-server."""

from __future__ import annotations

import json
import uuid

import nats
import pytest


async def _req(nc, subject: str, body=None, **headers):
    data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    msg = await nc.request(subject, data, timeout=15, headers=headers or None)
    return int(msg.headers["Neutron-Status"]), json.loads(msg.data)


@pytest.fixture
async def nc(stack):
    client = await nats.connect(stack.nats_url)
    yield client
    await client.close()


async def test_crud_over_the_bus_is_the_rest_api(stack, nc):
    p = stack.prefix
    project = "c" + uuid.uuid4().hex[:8]
    status, body = await _req(nc, f"{p}.cmd.networks.create", {"network": {"name": "bus-net"}}, **{"X-Project-Id": project})
    assert status == 201 and body["network"]["project_id"] == project
    net = body["network"]
    assert stack.api.as_project(project).get(f"/v2.0/networks/{net['id']}")[1]["network"]["name"] == "bus-net"
    status, body = await _req(nc, f"{p}.cmd.networks.update.{net['id']}", {"network": {"name": "renamed"}},
                              **{"X-Project-Id": project})
    assert status == 200 and body["network"]["name"] == "renamed"
    status, body = await _req(nc, f"{p}.cmd.networks.list", {"name": "renamed"}, **{"X-Project-Id": project})
    assert status == 200 and [n["id"] for n in body["networks"]] == [net["id"]]
    status, body = await _req(nc, f"{p}.cmd.networks.get.{net['id']}", **{"X-Project-Id": "someone-else"})
    assert status == 404 and body["NeutronError"]["type"] == "NetworkNotFound"
    status, body = await _req(nc, f"{p}.cmd.networks.delete.{net['id']}", **{"X-Project-Id": project})
    assert status == 204
    assert stack.api.as_project(project).get(f"/v2.0/networks/{net['id']}")[0] == 404


async def test_validation_policy_and_idempotency(stack, nc):
    p = stack.prefix
    project = "c" + uuid.uuid4().hex[:8]
    hdr = {"X-Project-Id": project}
    status, body = await _req(nc, f"{p}.cmd.networks.create", {"network": {"admin_state_up": "maybe"}}, **hdr)
    assert status == 400 and body["NeutronError"]["type"] == "InvalidInput"   # as over REST
    status, body = await _req(nc, f"{p}.cmd.networks.create", {"network": {"shared": True}}, **hdr)
    assert status == 403
    key = str(uuid.uuid4())
    first = await _req(nc, f"{p}.cmd.networks.create", {"network": {"name": "once"}}, **hdr, **{"Nats-Msg-Id": key})
    again = await _req(nc, f"{p}.cmd.networks.create", {"network": {"name": "once"}}, **hdr, **{"Nats-Msg-Id": key})
    assert first[0] == 201 and again[0] == 201 and first[1]["network"]["id"] == again[1]["network"]["id"]
    listed = stack.api.as_project(project).get("/v2.0/networks?name=once")[1]["networks"]
    assert len(listed) == 1
    status, body = await _req(nc, f"{p}.cmd.networks.create", b"{not json", **hdr)
    assert status == 400 and "Malformed" in body["NeutronError"]["message"]
    status, body = await _req(nc, f"{p}.cmd.nonsense", **hdr)
    assert status == 404


async def test_port_bind_needs_the_service_role(stack, nc):
    p = stack.prefix
    project = "c" + uuid.uuid4().hex[:8]
    rest = stack.api.as_project(project)
    net = rest.create("network", name="bind-net")
    rest.create("subnet", network_id=net["id"], cidr="10.47.0.0/24", ip_version=4)
    port = rest.create("port", network_id=net["id"])
    bind = {"port": {"binding:host_id": "compute-1", "device_id": str(uuid.uuid4()), "device_owner": "compute:nova"}}
    status, _ = await _req(nc, f"{p}.cmd.port.bind.{port['id']}", bind, **{"X-Project-Id": project})
    assert status == 403
    status, body = await _req(nc, f"{p}.cmd.port.bind.{port['id']}", bind,
                              **{"X-Project-Id": project, "X-Roles": "service"})
    assert status == 200 and body["port"]["binding:host_id"] == "compute-1"
    assert rest.get(f"/v2.0/ports/{port['id']}")[1]["port"]["device_owner"] == "compute:nova"
