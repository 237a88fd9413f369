"""openstacksdk's load_balancer proxy as a real Octavia client (smoke test).

A stack of its own (other modules rely on LBs staying PENDING_CREATE without a
worker), plus the real LB worker loop (KV watch, work queue, plan, status reports,
heartbeats) in a thread, whose driver only records ops: no namespaces, no HAProxy.
So provisioning goes ACTIVE through the real status path, and the SDK's
wait_for_load_balancer works; operating statuses stay OFFLINE (no HAProxy to ask).
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import uuid

import openstack
import pytest
from openstack import exceptions

from netledger.libs.bus import connect
from netledger.libs.events.subjects import Subjects
from netledger.services.advanced.lb import plan as P
from netledger.services.advanced.lb.config import LbConfig
from netledger.services.advanced.lb.driver_haproxy import HostView
from netledger.services.advanced.lb.worker import LbWorker
from netledger.services.topology.schedule_lb import lb_bucket
from tests.support import destroy_stack, start_stack


class RecordingDriver:
    """The LB driver's interface with no I/O: nothing is ever observed, ops are kept."""

    def __init__(self) -> None:
        self.ops: list[P.Op] = []
        self.writes = 0

    async def host_view(self) -> HostView:
        return HostView(set(), {})

    async def observe(self, lb_id: str, host: HostView) -> P.Seen:
        return P.Seen(lb_id=lb_id)

    async def apply(self, ops: list[P.Op]) -> None:
        self.ops += ops
        self.writes += len(ops)

    async def show_stat(self, lb_id: str) -> str:
        return ""


class WorkerThread:
    def __init__(self, nats_url: str, prefix: str) -> None:
        self.nats_url, self.prefix = nats_url, prefix
        self.driver = RecordingDriver()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self.stop = asyncio.Event()
        bus = await connect(self.nats_url, name="sdk-lb-worker", subjects=Subjects(self.prefix))
        cfg = LbConfig(host="sdk-lb-host", state_dir=tempfile.mkdtemp(prefix="nl-sdk-lb-"), resync_interval=2.0,
                       heartbeat_interval=1.0, stats_interval=0.5)
        w = LbWorker(bus, lb_bucket(self.prefix), cfg, driver=self.driver)
        task = asyncio.create_task(w.run(self.stop))
        await asyncio.wait_for(w.synced.wait(), 30)
        self.ready.set()
        await task
        await bus.nc.drain()

    def __enter__(self) -> WorkerThread:
        self.thread.start()
        assert self.ready.wait(40), "LB worker did not sync"
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)


@pytest.fixture(scope="module")
def lb_stack(nats_server):
    s = start_stack(nats_server, prefix="sdk" + uuid.uuid4().hex[:8])
    try:
        with WorkerThread(nats_server, s.prefix) as worker:
            yield s, worker
    finally:
        destroy_stack(s)


@pytest.fixture
def conn(lb_stack):
    stack, _ = lb_stack
    c = openstack.connection.Connection(
        auth_type="none", auth={"endpoint": stack.api_urls[0]}, region_name="RegionOne",
        network_endpoint_override=stack.api_urls[0],
        load_balancer_endpoint_override=stack.api_urls[0])
    yield c
    c.close()


def test_sdk_load_balancer_tree(conn, lb_stack):
    _, worker = lb_stack
    net = conn.network.create_network(name="sdk-lb-net")
    sub = conn.network.create_subnet(network_id=net.id, cidr="10.82.0.0/24", ip_version=4)
    lb = conn.load_balancer.create_load_balancer(name="sdk-lb", vip_subnet_id=sub.id)
    assert lb.provisioning_status == "PENDING_CREATE" and lb.vip_address.startswith("10.82.0.")
    lb = conn.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
    assert lb.provisioning_status == "ACTIVE"
    assert conn.network.get_port(lb.vip_port_id).device_owner == "Octavia"

    li = conn.load_balancer.create_listener(loadbalancer_id=lb.id, protocol="HTTP", protocol_port=80,
                                            connection_limit=100, name="web")
    conn.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
    pool = conn.load_balancer.create_pool(listener_id=li.id, protocol="HTTP", lb_algorithm="LEAST_CONNECTIONS",
                                          session_persistence={"type": "HTTP_COOKIE"})
    conn.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
    member = conn.load_balancer.create_member(pool, address="10.82.0.10", protocol_port=8080, weight=2)
    conn.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
    hm = conn.load_balancer.create_health_monitor(pool_id=pool.id, type="HTTP", delay=2, timeout=1, max_retries=2,
                                                  url_path="/health")
    conn.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
    policy = conn.load_balancer.create_l7_policy(listener_id=li.id, action="REJECT", name="deny")
    conn.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
    rule = conn.load_balancer.create_l7_rule(policy, type="PATH", compare_type="STARTS_WITH", value="/admin")
    conn.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)

    assert conn.load_balancer.get_listener(li.id).connection_limit == 100
    assert conn.load_balancer.get_listener(li.id).default_pool_id == pool.id
    got = conn.load_balancer.get_pool(pool.id)
    assert got.lb_algorithm == "LEAST_CONNECTIONS" and got.session_persistence["type"] == "HTTP_COOKIE"
    assert [m.id for m in conn.load_balancer.members(pool)] == [member.id]
    assert conn.load_balancer.get_member(member, pool).weight == 2
    assert conn.load_balancer.get_health_monitor(hm.id).url_path == "/health"
    assert [r.rule_value for r in conn.load_balancer.l7_rules(policy)] == ["/admin"]
    assert conn.load_balancer.get_l7_rule(rule, policy).compare_type == "STARTS_WITH"
    assert conn.load_balancer.find_load_balancer("sdk-lb").id == lb.id
    assert conn.load_balancer.update_member(member, pool, weight=5).weight == 5
    conn.load_balancer.wait_for_load_balancer(lb.id, interval=0.2, wait=60)
    # the worker got the whole tree (its plan ends with starting HAProxy on the rendered config)
    configs = [op.text for op in worker.driver.ops if isinstance(op, P.WriteConfig) and op.lb_id == lb.id]
    assert "balance leastconn" in configs[-1] and "weight 5" in configs[-1] and '"/admin"' in configs[-1]

    with pytest.raises(exceptions.BadRequestException, match="has children"):
        conn.load_balancer.delete_load_balancer(lb.id)          # not empty, no cascade (Octavia: 400)
    conn.load_balancer.delete_load_balancer(lb.id, cascade=True)
    conn.load_balancer.wait_for_delete(lb, interval=0.2, wait=60)
    with pytest.raises(exceptions.ResourceNotFound):
        conn.load_balancer.get_load_balancer(lb.id)
    with pytest.raises(exceptions.ResourceNotFound):
        conn.network.get_port(lb.vip_port_id)
    conn.network.delete_subnet(sub)
    conn.network.delete_network(net)
