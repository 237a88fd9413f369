"""DHCP over the real API (topology + API subprocesses on a real nats-server): the
scheduler creates the network:dhcp port on a live DHCP agent, topology compiles the
DHCP intent, readiness waits for both provisioning blocks, DHCP off removes the port,
a dead agent's networks move. The test plays the agents: it heartbeats and reports
status events exactly as the workers do (no dataplane needed here).
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid

import msgspec
import pytest

from netledger.deploy.streams import kv_buckets
from netledger.libs.bus import connect
from netledger.libs.events.dhcp import AGENT_TYPE, DhcpNetwork, dhcp_key
from netledger.libs.events.envelope import wrap
from netledger.libs.events.status import AgentHeartbeat, PortStatusReported
from netledger.libs.events.subjects import Subjects, host_token
from tests.support import destroy_stack, start_stack

DOWN_TIME = 3


@pytest.fixture(scope="module")
def dstack(nats_server):
    """A stack of its own: live DHCP agents must not schedule onto other tests' networks."""
    s = start_stack(nats_server, extra_env={"NETLEDGER_AGENT_DOWN_TIME": str(DOWN_TIME)})
    try:
        yield s
    finally:
        destroy_stack(s)


class Agents:
    """Heartbeats for (L2 + DHCP) agents on fake hosts; status reports like the workers'."""

    def __init__(self, bus) -> None:
        self.bus, self.alive, self.task = bus, set(), None

    async def beat(self) -> None:
        while True:
            for host in sorted(self.alive):
                for agent_type, extra in (("Open vSwitch agent", {"backend": "openvswitch", "network_types": ("vxlan",),
                                                                  "tunnel_ip": "10.250.0.9"}),
                                          (AGENT_TYPE, {"backend": "dnsmasq"})):
                    aid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{host}/{agent_type}"))
                    ev = AgentHeartbeat(agent_id=aid, host=host, agent_type=agent_type, binary="test", **extra)
                    env = wrap(ev, kind="agent", aggregate_id=aid)
                    await self.bus.publish(self.bus.subjects.status("agent", aid), env)
            await asyncio.sleep(0.5)

    async def report(self, port_id: str, host: str, block: str, status: str = "ACTIVE") -> None:
        ev = PortStatusReported(port_id=port_id, host=host, status=status, block=block)
        await self.bus.publish(self.bus.subjects.status("port", port_id), wrap(ev, kind="port", aggregate_id=port_id))


@pytest.fixture
async def env(dstack):
    bus = await connect(dstack.nats_url, name="dhcp-it", subjects=Subjects(dstack.prefix))
    agents = Agents(bus)
    agents.task = asyncio.create_task(agents.beat())
    try:
        yield bus, agents, dstack.api
    finally:
        agents.task.cancel()
        await bus.nc.drain()


async def call(api, method: str, path: str, body=None):
    return await asyncio.to_thread(api.call, method, path, body)


async def eventually(fn, timeout: float = 15, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        value = await fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(0.2)


async def dhcp_ports(api, net_id: str) -> list[dict]:
    _, body = await call(api, "GET", f"/v2.0/ports?network_id={net_id}&device_owner=network:dhcp")
    return body["ports"]


async def intent(bus, host: str, net_id: str) -> DhcpNetwork | None:
    kv = await bus.js.key_value(kv_buckets(bus.subjects.prefix)[1])
    try:
        entry = await kv.get(dhcp_key(host_token(host), net_id))
    except Exception:  # noqa: BLE001 - key not found
        return None
    return msgspec.json.decode(entry.value, type=DhcpNetwork) if entry.value else None


async def port_status(api, port_id: str) -> str:
    return (await call(api, "GET", f"/v2.0/ports/{port_id}"))[1]["port"]["status"]


async def test_dhcp_port_intent_and_readiness(env):
    bus, agents, api = env
    host = f"dh-{uuid.uuid4().hex[:6]}.example"
    agents.alive.add(host)
    _, listed = await eventually(lambda: _agent_listed(api, host), what="DHCP agent in /v2.0/agents")
    notes: list[dict] = []
    await bus.nc.subscribe(f"{bus.subjects.prefix}.notify.vif.>", cb=functools.partial(_note, notes))
    _, net = await call(api, "POST", "/v2.0/networks", {"network": {"name": "dh"}})
    net = net["network"]
    _, sub = await call(api, "POST", "/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.44.0.0/24", "ip_version": 4, "dns_nameservers": ["10.44.0.53"]}})
    sub = sub["subnet"]
    (dport,) = await eventually(lambda: dhcp_ports(api, net["id"]), what="DHCP port created")
    assert dport["binding:host_id"] == host and dport["device_id"].startswith("dhcp")
    assert dport["binding:vif_type"] == "ovs" and dport["fixed_ips"][0]["subnet_id"] == sub["id"]
    taken = dport["fixed_ips"][0]["ip_address"]
    status, _ = await call(api, "POST", "/v2.0/ports", {"port": {
        "network_id": net["id"], "fixed_ips": [{"subnet_id": sub["id"], "ip_address": taken}]}})
    assert status == 409, "the DHCP port's address is claimed like any port's"
    opts = [{"opt_name": "ntp-server", "opt_value": "10.44.0.123"}]
    status, body = await call(api, "POST", "/v2.0/ports", {"port": {
        "network_id": net["id"], "binding:host_id": host, "device_id": "vm-1", "extra_dhcp_opts": opts}})
    assert status == 201, body
    port = body["port"]
    assert port["extra_dhcp_opts"] == [{**opts[0], "ip_version": 4}]
    got = await eventually(lambda: _intent_with(bus, host, net["id"], port["id"]), what="intent lists the port")
    assert got.port.port_id == dport["id"] and got.subnets[0].dns_nameservers == ("10.44.0.53",)
    assert [o.opt_name for o in got.hosts[0].extra_dhcp_opts] == ["ntp-server"]
    await agents.report(port["id"], host, "l2")
    await asyncio.sleep(1.0)
    assert await port_status(api, port["id"]) == "DOWN", "L2 alone is not enough: the dhcp block is pending"
    await agents.report(port["id"], host, "dhcp")
    await eventually(lambda: _is(api, port["id"], "ACTIVE"), what="ACTIVE after both blocks")
    await eventually(lambda: _async(any(n["port_id"] == port["id"] and n["status"] == "ACTIVE" for n in notes)),
                     what="vif-plugged notification")
    # extra_dhcp_opts update merges (Neutron): a null value removes, a new name is added.
    status, body = await call(api, "PUT", f"/v2.0/ports/{port['id']}", {"port": {"extra_dhcp_opts": [
        {"opt_name": "ntp-server", "opt_value": None}, {"opt_name": "domain-search", "opt_value": "example.org"}]}})
    assert status == 200 and body["port"]["extra_dhcp_opts"] == [
        {"opt_name": "domain-search", "opt_value": "example.org", "ip_version": 4}]
    # DHCP off: the DHCP port and the intent go; the port no longer waits for a dhcp block.
    await call(api, "PUT", f"/v2.0/subnets/{sub['id']}", {"subnet": {"enable_dhcp": False}})
    await eventually(lambda: _async_not(dhcp_ports(api, net["id"])), what="DHCP port deleted")
    await eventually(lambda: _async_not(intent(bus, host, net["id"])), what="intent deleted")
    assert await port_status(api, port["id"]) == "ACTIVE"
    # DHCP on again: a new DHCP port (fresh id); then the network can be deleted at once.
    await call(api, "PUT", f"/v2.0/subnets/{sub['id']}", {"subnet": {"enable_dhcp": True}})
    (again,) = await eventually(lambda: dhcp_ports(api, net["id"]), what="DHCP port re-created")
    assert again["id"] != dport["id"]
    assert (await call(api, "DELETE", f"/v2.0/ports/{port['id']}"))[0] == 204
    assert (await call(api, "DELETE", f"/v2.0/networks/{net['id']}"))[0] == 204
    agents.alive.discard(host)


async def test_dead_agent_networks_move_to_a_live_one(env):
    bus, agents, api = env
    h1, h2 = (f"dh-{uuid.uuid4().hex[:6]}" for _ in range(2))
    await eventually(lambda: _no_live_dhcp_agent(api), timeout=DOWN_TIME + 10, what="earlier agents dead")
    agents.alive.add(h1)
    await eventually(lambda: _agent_listed(api, h1), what="agent 1")
    _, net = await call(api, "POST", "/v2.0/networks", {"network": {"name": "fo"}})
    net = net["network"]
    await call(api, "POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.45.0.0/24",
                                                         "ip_version": 4}})
    (dport,) = await eventually(lambda: dhcp_ports(api, net["id"]), what="DHCP port on h1")
    assert dport["binding:host_id"] == h1
    agents.alive = {h2}
    moved = await eventually(lambda: _bound_to(api, net["id"], h2), timeout=DOWN_TIME + 15, what="rescheduled to h2")
    assert moved["id"] == dport["id"] and moved["fixed_ips"] == dport["fixed_ips"], "same port, same address"
    assert await eventually(lambda: intent(bus, h2, net["id"]), what="intent on h2")
    assert await intent(bus, h1, net["id"]) is None
    assert (await call(api, "DELETE", f"/v2.0/networks/{net['id']}"))[0] == 204
    agents.alive = set()


# --- small async predicates
async def _agent_listed(api, host: str):
    _, body = await call(api, "GET", f"/v2.0/agents?host={host}&agent_type={AGENT_TYPE.replace(' ', '%20')}")
    agents = [a for a in body["agents"] if a["alive"]]
    return (True, agents) if agents else None


async def _no_live_dhcp_agent(api) -> bool:
    _, body = await call(api, "GET", "/v2.0/agents")
    return not [a for a in body["agents"] if a["alive"] and a["agent_type"] == AGENT_TYPE]


async def _intent_with(bus, host, net_id, port_id):
    got = await intent(bus, host, net_id)
    return got if got and any(h.port_id == port_id for h in got.hosts) else None


async def _is(api, port_id: str, status: str) -> bool:
    return await port_status(api, port_id) == status


async def _bound_to(api, net_id: str, host: str):
    ports = await dhcp_ports(api, net_id)
    return ports[0] if len(ports) == 1 and ports[0]["binding:host_id"] == host else None


async def _async(value):
    return value


async def _async_not(awaitable) -> bool:
    return not await awaitable


async def _note(notes: list, msg) -> None:
    notes.append(json.loads(msg.data))
