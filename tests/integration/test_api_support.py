"""Helpers shared by the test_api_* modules (this module holds no tests).

Every test works inside a project of its own (``X-Project-Id``), so lists stay
isolated on the session-wide stack; admin checks use the default (admin) client.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

import pytest

from netledger.libs import bus as busmod
from netledger.libs.events.envelope import wrap
from netledger.libs.events.status import AgentHeartbeat, PortStatusReported
from netledger.libs.events.subjects import Subjects
from tests.support import Client, destroy_stack, start_stack


def new_project(api: Client) -> Client:
    """A client for a fresh, non-admin project."""
    return api.as_project("p" + uuid.uuid4().hex[:12])


def neutron_error(status: int, body: dict, code: int, type_: str | None = None) -> dict:
    """Assert Neutron's error body shape (and type); returns the inner error."""
    assert status == code, (status, body)
    err = body["NeutronError"]
    assert set(err) == {"type", "message", "detail"}, err
    assert isinstance(err["message"], str) and err["message"]
    if type_:
        assert err["type"] == type_, err
    return err


def make_net(c: Client, cidr: str | None = "10.0.0.0/24", **net_attrs) -> tuple[dict, dict | None]:
    net = c.create("network", **{"name": "n", **net_attrs})
    sub = c.create("subnet", network_id=net["id"], cidr=cidr, ip_version=4) if cidr else None
    return net, sub


def held_claims(stack, table: str = "ip_claims", **where) -> list[dict]:
    """Claims held right now, read from the projection (the unique index)."""
    conn = sqlite3.connect(f"file:{stack.db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    cond = " AND ".join(f"{k} = ?" for k in where)
    sql = f"SELECT * FROM {table} WHERE held = 1" + (f" AND {cond}" if cond else "")
    try:
        return [dict(r) for r in conn.execute(sql, list(where.values()))]
    finally:
        conn.close()


async def _publish(stack, subject_of, event_of) -> None:
    bus = await busmod.connect(stack.nats_url, name="test-worker", subjects=Subjects(stack.prefix))
    try:
        subject, env = subject_of(bus.subjects), event_of()
        await bus.publish(subject, env)
    finally:
        await bus.nc.close()


def report_port_status(stack, port_id: str, host: str, status: str = "ACTIVE") -> None:
    """What an L2 worker publishes once it wired a port."""
    ev = PortStatusReported(port_id=port_id, host=host, status=status, block="l2")
    asyncio.run(_publish(stack, lambda s: s.status("port", port_id),
                         lambda: wrap(ev, kind="port", aggregate_id=port_id)))


def heartbeat(stack, host: str, *, network_types=("vxlan", "vlan", "flat"), backend="openvswitch") -> None:
    """An L2 worker announcing itself on ``host`` (makes bindings there succeed)."""
    aid = f"agent-{host}"
    ev = AgentHeartbeat(agent_id=aid, host=host, agent_type="Open vSwitch agent", binary="netledger-l2",
                        backend=backend, network_types=tuple(network_types),
                        bridge_mappings={"physnet1": "br-phys"})
    asyncio.run(_publish(stack, lambda s: s.status("agent", aid), lambda: wrap(ev, kind="agent", aggregate_id=aid)))


@pytest.fixture(scope="module")
def stack2(nats_server):
    """Topology plus two API processes on one projection (multi-process behaviour)."""
    s = start_stack(nats_server, apis=2)
    try:
        yield s
    finally:
        destroy_stack(s)


@pytest.fixture
def apis(stack2) -> tuple[Client, Client]:
    return Client(stack2.api_urls[0]), Client(stack2.api_urls[1])
