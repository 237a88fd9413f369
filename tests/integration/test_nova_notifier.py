"""The Nova notifier against a small Nova in the test, tokens from a real Keystone.

The stub checks what Nova's ``os-server-external-events`` API requires: the path and
microversion, a valid Keystone token of the configured service user (asked of the real
Keystone), and the body shape (``events`` of name/server_uuid/tag[/status]). The test
plays the L2 agent (heartbeat + status reports on the status stream, as workers do).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiohttp import web

from netledger.libs.bus import connect
from netledger.libs.events.envelope import wrap
from netledger.libs.events.status import AgentHeartbeat, PortStatusReported
from netledger.libs.events.subjects import Subjects
from tests.keystone import fixture as ksfix
from tests.keystone.directory import Directory
from tests.support import destroy_stack, free_port, start_stack

PASSWORD = "pw-" + uuid.uuid4().hex[:8]
NOVA_USER = "nova-notifier-" + uuid.uuid4().hex[:6]
HOST = "compute-nova-it"


class Nova:
    """Records valid external-event requests; answers 503 to the first one (retry)."""

    def __init__(self, ks, directory: Directory) -> None:
        self.ks, self.directory = ks, directory
        self.batches: list[list[dict]] = []
        self.problems: list[str] = []
        self.posts = 0

    async def events(self, request: web.Request) -> web.Response:
        self.posts += 1
        if self.posts == 1:
            return web.json_response({"computeFault": {"code": 503, "message": "busy"}}, status=503)
        token = request.headers.get("X-Auth-Token", "")
        status, body, _ = await asyncio.to_thread(
            self.ks.call, "GET", "/v3/auth/tokens", token=self.directory.admin_token,
            headers={"X-Subject-Token": token})
        if status != 200 or body["token"]["user"]["name"] != NOVA_USER:
            self.problems.append(f"token rejected: {status}")
            return web.json_response({"error": {"code": 401}}, status=401)
        if request.headers.get("X-OpenStack-Nova-API-Version") != "2.1":
            self.problems.append("no microversion header")
        payload = await request.json()
        events = payload["events"]
        for ev in events:
            required = {"name", "server_uuid", "tag"} | ({"status"} if "plugged" in ev["name"] else set())
            if not required <= set(ev) or not set(ev) <= {"name", "server_uuid", "tag", "status"}:
                self.problems.append(f"bad event shape: {ev}")
        self.batches.append(events)
        return web.json_response({"events": [{**ev, "status": ev.get("status", "completed"), "code": 200}
                                             for ev in events]})

    @property
    def seen(self) -> list[tuple]:
        return [(e["name"], e["server_uuid"], e["tag"], e.get("status")) for b in self.batches for e in b]


@pytest.fixture(scope="module")
def keystone():
    try:
        ks = ksfix.start(free_port())
    except ksfix.KeystoneUnavailable as exc:
        pytest.skip(f"Keystone could not be installed or started: {exc}")
    try:
        d = Directory(ks, PASSWORD)
        d.projects["service"] = d.project("service-" + uuid.uuid4().hex[:6])
        d.user(NOVA_USER, "service", "service" if "service" in d.roles else "admin")
        yield ks, d
    finally:
        ks.stop()


@pytest.fixture
async def nova(keystone, nats_server):
    ks, directory = keystone
    fake = Nova(ks, directory)
    app = web.Application()
    app.router.add_post("/v2.1/os-server-external-events", fake.events)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    env = {"NETLEDGER_NOVA_URL": f"http://127.0.0.1:{port}", "NETLEDGER_NOVA_KEYSTONE_URL": ks.url,
           "NETLEDGER_NOVA_USER": NOVA_USER, "NETLEDGER_NOVA_PASSWORD": PASSWORD,
           "NETLEDGER_NOVA_PROJECT": _project_name(directory), "NETLEDGER_NOVA_SEND_EVENTS_INTERVAL": "0.5"}
    stack = await asyncio.to_thread(start_stack, nats_server, extra_env=env)
    bus = await connect(stack.nats_url, name="nova-it", subjects=Subjects(stack.prefix))
    beat = asyncio.create_task(_heartbeat(bus))
    try:
        yield fake, stack, bus
    finally:
        beat.cancel()
        await bus.nc.drain()
        await asyncio.to_thread(destroy_stack, stack)
        await runner.cleanup()


def _project_name(directory: Directory) -> str:
    pid = directory.projects["service"]
    return directory._get(f"/v3/projects/{pid}")["project"]["name"]


async def _heartbeat(bus) -> None:
    aid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{HOST}/ovs"))
    while True:
        ev = AgentHeartbeat(agent_id=aid, host=HOST, agent_type="Open vSwitch agent", binary="test",
                            backend="openvswitch", network_types=("vxlan",), tunnel_ip="10.250.0.7")
        await bus.publish(bus.subjects.status("agent", aid), wrap(ev, kind="agent", aggregate_id=aid))
        await asyncio.sleep(0.5)


async def _report(bus, port_id: str, status: str) -> None:
    ev = PortStatusReported(port_id=port_id, host=HOST, status=status, block="l2")
    await bus.publish(bus.subjects.status("port", port_id), wrap(ev, kind="port", aggregate_id=port_id))


async def _until(fn, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (value := await fn()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(0.2)
    return value


async def test_nova_hears_plugged_changed_unplugged_deleted(nova):
    fake, stack, bus = nova
    api = stack.api

    async def call(method, path, body=None):
        return await asyncio.to_thread(api.call, method, path, body)

    async def status_is(port_id, want):
        return (await call("GET", f"/v2.0/ports/{port_id}"))[1]["port"]["status"] == want

    async def seen(*entries):
        return all(e in fake.seen for e in entries)

    net = (await call("POST", "/v2.0/networks", {"network": {"name": "nova"}}))[1]["network"]
    sub = (await call("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.48.0.0/24",
                                                           "ip_version": 4, "enable_dhcp": False}}))[1]["subnet"]
    server = str(uuid.uuid4())
    status, body = await call("POST", "/v2.0/ports", {"port": {
        "network_id": net["id"], "device_id": server, "device_owner": "compute:nova", "binding:host_id": HOST}})
    assert status == 201, body
    port = body["port"]
    other = (await call("POST", "/v2.0/ports", {"port": {
        "network_id": net["id"], "device_id": "not-an-instance", "binding:host_id": HOST}}))[1]["port"]
    await _report(bus, port["id"], "ACTIVE")
    await _report(bus, other["id"], "ACTIVE")
    await _until(lambda: status_is(port["id"], "ACTIVE"), "port ACTIVE")
    plugged = ("network-vif-plugged", server, port["id"], "completed")
    await _until(lambda: seen(plugged), "network-vif-plugged")
    assert fake.posts >= 2, "the first POST got a 503 and was retried"
    new_ip = sub["allocation_pools"][0]["end"]
    status, _ = await call("PUT", f"/v2.0/ports/{port['id']}", {"port": {
        "fixed_ips": [{"subnet_id": sub["id"], "ip_address": new_ip}]}})
    assert status == 200
    changed = ("network-changed", server, port["id"], None)
    await _until(lambda: seen(changed), "network-changed")
    await _report(bus, port["id"], "DOWN")
    unplugged = ("network-vif-unplugged", server, port["id"], "completed")
    await _until(lambda: seen(unplugged), "network-vif-unplugged")
    assert (await call("DELETE", f"/v2.0/ports/{port['id']}"))[0] == 204
    deleted = ("network-vif-deleted", server, port["id"], None)
    await _until(lambda: seen(deleted), "network-vif-deleted")
    assert fake.problems == []
    assert [e for e in fake.seen if e[2] == other["id"]] == [], "not a compute port: Nova hears nothing"
    assert fake.seen.count(plugged) == 1 and fake.seen.index(plugged) < fake.seen.index(unplugged)
