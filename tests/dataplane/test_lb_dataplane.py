"""Load balancing with real packets: the Octavia API drives one HAProxy per LB in a
namespace holding the VIP port, wired by the host's L2 worker.

Three backend namespaces answer HTTP with their own name; a client instance sits on
the same network; the "internet" reaches the VIP through a floating IP.
"""

from __future__ import annotations

import asyncio
import collections
import subprocess

import pytest

from netledger.services.advanced.lb.lab import LbLab
from netledger.services.l3.lab import curl, sh

pytestmark = pytest.mark.dataplane


@pytest.fixture
async def lab(cluster, nats_server, prefix):
    if subprocess.run(["which", "haproxy"], capture_output=True).returncode:
        pytest.skip("haproxy not installed")
    lab = LbLab(cluster, nats_server, prefix=prefix)
    try:
        await lab.start()
        yield lab
    finally:
        await lab.close()


async def setup_backends(lab, cidr="10.60.0.0/24"):
    ext, _ = await lab.external_network()
    net, sub = await lab.lan(cidr)
    router = await lab.create("router", name="r", external_gateway_info={"network_id": ext["id"]})
    await lab.api("PUT", f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    backends = []
    for i in range(3):
        port, ns = await lab.instance(i % 2, net, sub)
        ip = port["fixed_ips"][0]["ip_address"]
        lab.backend(ns, ip, f"be{i + 1}")
        backends.append((ns, ip, f"be{i + 1}"))
    _, client = await lab.instance(0, net, sub)
    return ext, net, sub, backends, client


def hits(ns: str, url: str, n: int, extra=()) -> list[str]:
    out = []
    for _ in range(n):
        r = sh("ip", "netns", "exec", ns, "curl", "-s", "-m", "3", *extra, url, check=False, timeout=10)
        out.append(r.stdout.strip() if r.returncode == 0 else None)
    return out


async def lb_with_pool(lab, sub, backends, algorithm="ROUND_ROBIN", persistence=None, listener_extra=None):
    lb = await lab.make("loadbalancer", "loadbalancers", name="lb", vip_subnet_id=sub["id"])
    li = await lab.make("listener", "listeners", loadbalancer_id=lb["id"], protocol="HTTP", protocol_port=80,
                        **(listener_extra or {}))
    pool = await lab.make("pool", "pools", listener_id=li["id"], protocol="HTTP", lb_algorithm=algorithm,
                          **({"session_persistence": persistence} if persistence else {}))
    members = [await lab.make("member", f"pools/{pool['id']}/members", address=ip, protocol_port=8080, name=name)
               for _, ip, name in backends]
    return lb, li, pool, members


async def test_round_robin_health_and_cascade_delete(lab):
    ext, net, sub, backends, client = await setup_backends(lab)
    lb, li, pool, members = await lb_with_pool(lab, sub, backends)
    await lab.make("healthmonitor", "healthmonitors", pool_id=pool["id"], type="HTTP", delay=1, timeout=1,
                   max_retries=1, max_retries_down=1, url_path="/")
    vip = f"http://{lb['vip_address']}/"
    # servers with checks are DOWN until their first successful check
    await lab.wait(lambda: set(hits(client, vip, 3)) == {"be1", "be2", "be3"}, 60, "VIP answers from every backend")
    got = collections.Counter(hits(client, vip, 9))
    assert got == {"be1": 3, "be2": 3, "be3": 3}, got
    await lab.wait(lambda: lab.tree(lb["id"])["operating_status"] == "ONLINE", 30, "LB ONLINE")

    lab.stop_backend(backends[1][0])
    be2 = members[1]["id"]
    await lab.wait(lambda: _member(lab, lb["id"], be2) == "ERROR", 30, "stopped backend's member ERROR")
    assert lab.tree(lb["id"])["operating_status"] == "DEGRADED"
    assert "be2" not in hits(client, vip, 6)
    lab.backend(*backends[1])
    await lab.wait(lambda: _member(lab, lb["id"], be2) == "ONLINE", 30, "restarted backend ONLINE again")
    await lab.wait(lambda: lab.tree(lb["id"])["operating_status"] == "ONLINE", 30, "LB ONLINE again")

    await lab.lbaas("DELETE", f"loadbalancers/{lb['id']}?cascade=true")
    await lab.wait(lambda: not lab.lb_netns(), 30, "LB namespace removed")
    assert lab._call("GET", f"/v2.0/ports/{lb['vip_port_id']}")[0] == 404
    for w in lab.lb.values():
        host = await w.driver.host_view()
        assert not host.ovs and not host.lbs(w.cfg), "nothing of the LB left on the host"


async def test_vip_through_floating_ip(lab):
    ext, net, sub, backends, client = await setup_backends(lab, "10.61.0.0/24")
    lb, li, pool, members = await lb_with_pool(lab, sub, backends)
    await lab.wait(lambda: curl(client, f"http://{lb['vip_address']}/") in ("be1", "be2", "be3"), 60, "VIP")
    fip = await lab.create("floatingip", floating_network_id=ext["id"], port_id=lb["vip_port_id"])
    await lab.wait(lambda: curl(lab.ext_ns, f"http://{fip['floating_ip_address']}/") in ("be1", "be2", "be3"),
                   60, "VIP through the floating IP")
    await lab.api("PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})



def _member(lab, lb_id, member_id) -> str:
    for li in lab.tree(lb_id)["listeners"]:
        for p in li["pools"]:
            for m in p["members"]:
                if m["id"] == member_id:
                    return m["operating_status"]
    return ""
