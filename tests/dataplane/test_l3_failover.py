"""Failover: the L3 worker hosting a router dies (with its router namespace, as when
its node fails); topology's scheduler moves the router to the other live worker once
the heartbeat is stale, re-binds its ports, and traffic flows again."""

from __future__ import annotations

import time

import pytest
import structlog

from netledger.services.l3.lab import EXT_IP, curl, sh
from tests.dataplane.test_l3_dataplane import gateway_ip, lab, routed_pair, router_host  # noqa: F401

pytestmark = pytest.mark.dataplane
log = structlog.get_logger("test.l3.failover")


async def kill_router_host(lab, host_name: str, router_id: str) -> None:
    """The worker stops heartbeating and its node's router dataplane is gone."""
    h = next(x for x in lab.cluster.hosts if x.name == host_name)
    await lab.kill_l3(h)
    for name in h.ovs.vsctl("--bare", "--columns=name", "find", "Interface",
                            f"external_ids:netledger-router={router_id}").split():
        h.ovs.vsctl("--if-exists", "del-port", "br-int", name)
    sh("ip", "netns", "delete", lab.l3[host_name].cfg.netns(router_id), check=False)


async def test_router_moves_to_a_live_worker(lab):  # noqa: F811
    ext, router, [(_, vm_a, _), (_, vm_b, ip_b)] = await routed_pair(lab, ("10.60.0.0/24", "10.61.0.0/24"))
    url = f"http://{EXT_IP}:8000/"
    await lab.wait(lambda: curl(vm_a, url) == gateway_ip(router), 40, "SNAT before failover")
    old = router_host(lab, router)
    start = time.monotonic()
    await kill_router_host(lab, old, router["id"])
    assert curl(vm_a, url, 1) is None, "the router is really gone"
    await lab.wait(lambda: router_host(lab, router) != old, 15, "rescheduled")
    await lab.wait(lambda: curl(vm_a, url, 1) == gateway_ip(router), 30, "SNAT after failover")
    took = time.monotonic() - start
    log.info("failover", seconds=round(took, 2), down_time=lab.down_time)
    assert curl(vm_b, url) == gateway_ip(router)
    ports = lab._call("GET", f"/v2.0/ports?device_id={router['id']}")[1]["ports"]
    assert {p["binding:host_id"] for p in ports} == {router_host(lab, router)}
    assert took < lab.down_time + 15
