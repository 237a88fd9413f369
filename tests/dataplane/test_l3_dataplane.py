"""Routers with real packets: east-west routing, SNAT, floating IPs (in, out, hairpin,
router-local), disassociate/move, extra routes, cleanup, restart and tampering.

The whole stack runs: API + topology (subprocesses), an L2 and an L3 worker per
simulated host; the "internet" is a namespace on the flat physical network that
echoes the client address over HTTP.
"""

from __future__ import annotations

import asyncio

import pytest

from netledger.services.l3.lab import EXT_IP, L3Lab, curl, ping, sh

pytestmark = pytest.mark.dataplane
ECHO_URL = f"http://{EXT_IP}:8000/"


@pytest.fixture
async def lab(cluster, nats_server, prefix):
    lab = L3Lab(cluster, nats_server, prefix=prefix)
    try:
        await lab.start()
        yield lab
    finally:
        await lab.close()


async def add_interface(lab, router, subnet):
    return await lab.api("PUT", f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]})


async def routed_pair(lab, cidrs=("10.11.0.0/24", "10.12.0.0/24"), project=""):
    """A router with a gateway and two subnets, one instance on each host."""
    ext, _ = await lab.external_network() if not hasattr(lab, "ext") else lab.ext
    lab.ext = (ext, None)
    router = await lab.create("router", name="r", external_gateway_info={"network_id": ext["id"]},
                              **({"project_id": project} if project else {}))
    out = []
    for i, cidr in enumerate(cidrs):
        net, sub = await lab.lan(cidr, project)
        await add_interface(lab, router, sub)
        port, ns = await lab.instance(i, net, sub)
        out.append((port, ns, port["fixed_ips"][0]["ip_address"]))
    return ext, router, out


def gateway_ip(router) -> str:
    return router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]


async def test_routing_snat_and_floating_ips(lab):
    ext, router, [(pa, vm_a, ip_a), (pb, vm_b, ip_b)] = await routed_pair(lab)
    await lab.wait(lambda: ping(vm_a, ip_b), 40, "east-west across the router")
    assert ping(vm_b, ip_a)
    gw = gateway_ip(router)
    await lab.wait(lambda: curl(vm_a, ECHO_URL) == gw, 20, "SNAT to the gateway address")

    fip = await lab.create("floatingip", floating_network_id=ext["id"], port_id=pa["id"])
    addr = fip["floating_ip_address"]
    lab.echo(vm_a, ip_a)
    await lab.wait(lambda: curl(lab.ext_ns, f"http://{addr}:8000/") == EXT_IP, 20, "inbound through the FIP")
    assert curl(vm_a, ECHO_URL) == addr, "the instance's own traffic leaves as its floating IP"
    assert curl(vm_b, ECHO_URL) == gw, "the other instance still leaves as the gateway"
    assert curl(vm_b, f"http://{addr}:8000/") is not None, "hairpin: an inside client through the FIP"
    ns = lab.l3[router_host(lab, router)].cfg.netns(router["id"])
    assert curl(ns, f"http://{addr}:8000/") is not None, "router-local access to the FIP"
    await lab.wait(lambda: _status(lab, f"/v2.0/floatingips/{fip['id']}", "floatingip") == "ACTIVE", 10,
                   "floating IP ACTIVE")

    await lab.api("PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    await lab.wait(lambda: curl(lab.ext_ns, f"http://{addr}:8000/", 1) is None, 15, "disassociation cuts")
    assert curl(vm_a, ECHO_URL) == gw
    await lab.api("PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": pb["id"]}})
    lab.echo(vm_b, ip_b)
    await lab.wait(lambda: curl(lab.ext_ns, f"http://{addr}:8000/") == EXT_IP, 15, "FIP moved to port b")
    assert curl(vm_b, ECHO_URL) == addr and curl(vm_a, ECHO_URL) == gw


def router_host(lab, router) -> str:
    return lab._call("GET", f"/v2.0/routers/{router['id']}/l3-agents")[1]["agents"][0]["host"]


def _status(lab, path, kind):
    return lab._call("GET", path)[1][kind]["status"]


async def test_projects_with_same_cidrs_stay_isolated(lab):
    _, r1, [(_, vm1, ip1), _] = await routed_pair(lab, ("10.30.0.0/24", "10.31.0.0/24"), project="pa")
    _, r2, [(_, vm2, ip2), _] = await routed_pair(lab, ("10.30.0.0/24", "10.31.0.0/24"), project="pb")
    await lab.wait(lambda: curl(vm1, ECHO_URL) is not None and curl(vm2, ECHO_URL) is not None, 40, "both out")
    assert curl(vm1, ECHO_URL) != curl(vm2, ECHO_URL), "each router SNATs to its own gateway address"
    # the same address exists twice; each instance only ever reaches its own router's side
    far1 = "10.31.0." + ip1.split(".")[-1]
    sh("ip", "-n", vm1, "neigh", "flush", "all")
    macs = {sh("ip", "-n", ns, "link", "show", "eth0").stdout.split("link/ether ")[1].split()[0] for ns in (vm1, vm2)}
    assert len(macs) == 2
    assert ping(vm1, "10.30.0.1") and ping(vm2, "10.30.0.1")
    gw_mac1 = sh("ip", "-n", vm1, "neigh", "show", "10.30.0.1").stdout
    gw_mac2 = sh("ip", "-n", vm2, "neigh", "show", "10.30.0.1").stdout
    assert gw_mac1.split("lladdr ")[1].split()[0] != gw_mac2.split("lladdr ")[1].split()[0], (gw_mac1, gw_mac2)
    assert far1


async def test_extra_route_and_cleanup(lab):
    ext, router, [(pa, vm_a, ip_a), (pb, vm_b, ip_b)] = await routed_pair(lab, ("10.40.0.0/24", "10.41.0.0/24"))
    await lab.wait(lambda: ping(vm_a, ip_b), 40, "routing")
    # vm_b owns 10.99.0.1 on a loopback-like alias; the router learns it through an extra route
    sh("ip", "-n", vm_b, "addr", "add", "10.99.0.1/32", "dev", "lo")
    assert not ping(vm_a, "10.99.0.1")
    await lab.api("PUT", f"/v2.0/routers/{router['id']}", {"router": {"routes": [
        {"destination": "10.99.0.0/24", "nexthop": ip_b}]}})
    await lab.wait(lambda: ping(vm_a, "10.99.0.1"), 15, "extra route")
    host = router_host(lab, router)
    h = next(x for x in lab.cluster.hosts if x.name == host)
    ns = lab.l3[host].cfg.netns(router["id"])
    await lab.api("PUT", f"/v2.0/routers/{router['id']}", {"router": {"routes": []}})
    await lab.wait(lambda: not ping(vm_a, "10.99.0.1"), 15, "route removed")

    subs = [p["fixed_ips"][0]["subnet_id"] for p in (pa, pb)]
    await lab.api("PUT", f"/v2.0/routers/{router['id']}/remove_router_interface", {"subnet_id": subs[0]})
    await lab.wait(lambda: "qr-" not in _links(ns) or _links(ns).count("qr-") == 1, 15, "interface unplugged")
    await lab.api("PUT", f"/v2.0/routers/{router['id']}/remove_router_interface", {"subnet_id": subs[1]})
    await lab.api("PUT", f"/v2.0/routers/{router['id']}", {"router": {"external_gateway_info": None}})
    await lab.api("DELETE", f"/v2.0/routers/{router['id']}")
    await lab.wait(lambda: ns not in sh("ip", "netns", "list").stdout, 15, "namespace removed")
    assert "netledger-l3" not in h.ovs.vsctl("--columns=external_ids", "list", "Interface")


def _links(ns: str) -> str:
    return sh("ip", "-n", ns, "-o", "link", "show", check=False).stdout


async def test_restart_writes_nothing_and_tampering_is_repaired(lab):
    ext, router, [(pa, vm_a, ip_a), _] = await routed_pair(lab, ("10.50.0.0/24", "10.51.0.0/24"))
    await lab.create("floatingip", floating_network_id=ext["id"], port_id=pa["id"])
    await lab.wait(lambda: curl(vm_a, ECHO_URL) not in (None,), 40, "traffic flows")
    await asyncio.sleep(2.5)        # let every key settle
    for h in lab.cluster.hosts:
        await lab.stop_worker(f"l3:{h.name}")
        w = await lab.start_l3(h)
        assert w.startup_writes == 0, f"{h.name}: restart wrote {w.startup_writes} times"
    host = router_host(lab, router)
    w = lab.l3[host]
    ns = w.cfg.netns(router["id"])
    before = w.writes
    sh("ip", "netns", "exec", ns, "nft", "flush", "chain", "ip", "netledger_l3", "postrouting")
    sh("ip", "-n", ns, "route", "del", "default")
    await lab.wait(lambda: w.writes - before >= 2, 10, "repairs")
    await lab.wait(lambda: curl(vm_a, ECHO_URL) is not None, 10, "traffic again")
    assert "default via" in sh("ip", "-n", ns, "route").stdout
    assert "snat to" in sh("ip", "netns", "exec", ns, "nft", "list", "table", "ip", "netledger_l3").stdout
    await asyncio.sleep(2.5)
    assert w.writes - before == 2, "exactly the two broken things were rewritten"
