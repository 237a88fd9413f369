"""Real packets between instances on two simulated hosts, per network type; isolation."""

from __future__ import annotations

import subprocess
import time

import pytest

from netledger.libs.events.intents import L2Network

pytestmark = pytest.mark.dataplane

NETS = {
    "vxlan": L2Network(network_id="net-vxlan", network_type="vxlan", segmentation_id=1001),
    "gre": L2Network(network_id="net-gre", network_type="gre", segmentation_id=1002),
    "geneve": L2Network(network_id="net-geneve", network_type="geneve", segmentation_id=1003),
    "vlan": L2Network(network_id="net-vlan", network_type="vlan", segmentation_id=101,
                      physical_network="physnet1"),
    "flat": L2Network(network_id="net-flat", network_type="flat", physical_network="physnet1"),
}


@pytest.mark.parametrize("ntype", sorted(NETS))
async def test_two_hosts_ping_and_tcp(l2env, net_pair, dp, ntype):
    (_, _, ns1), (_, _, ns2) = await net_pair(l2env, NETS[ntype], ntype)
    assert dp.ping(ns1, "10.0.0.2"), f"{ntype}: ping host1 -> host2"
    assert dp.ping(ns2, "10.0.0.1"), f"{ntype}: ping host2 -> host1"
    assert dp.tcp_ok(ns2, ns1, "10.0.0.2"), f"{ntype}: TCP (HTTP) host1 -> host2"


async def test_same_cidr_networks_are_isolated(l2env, net_pair, dp):
    """vxlan 100, gre 100 (same key, other type) and vlan 100 share one CIDR: no leaks.

    tcpdump (-e: with MACs) runs in the other networks' instances while net A pings;
    a ping inside each other network at the end is the positive control that the
    capture was really listening.
    """
    nets = [L2Network(network_id="iso-a", network_type="vxlan", segmentation_id=100),
            L2Network(network_id="iso-b", network_type="gre", segmentation_id=100),
            L2Network(network_id="iso-c", network_type="vlan", segmentation_id=100,
                      physical_network="physnet1")]
    pairs = [await net_pair(l2env, n, t) for n, t in zip(nets, ("isoa", "isob", "isoc"))]
    (_, mac_a1, a1), (_, mac_a2, _) = pairs[0]
    watchers = [subprocess.Popen(["ip", "netns", "exec", pair[1][2], "tcpdump", "-enl", "-i", "eth0",
                                  "arp or icmp"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                for pair in pairs[1:]]
    try:
        time.sleep(1.0)                                    # let tcpdump attach
        dp.sh("ip", "-n", a1, "neigh", "flush", "all")
        assert dp.ping(a1, "10.0.0.2", count=5)
        neigh = dp.sh("ip", "-n", a1, "neigh", "show", "10.0.0.2").stdout
        assert mac_a2 in neigh, f"the answer must come from net A's instance: {neigh}"
        for (_, _, x1), _ in pairs[1:]:
            assert dp.ping(x1, "10.0.0.2", count=2), "the other networks still work"
        time.sleep(0.5)
    finally:
        for w in watchers:
            w.terminate()
    for (_, mac_x1, _), _ in pairs[1:]:
        seen = watchers.pop(0).communicate(timeout=5)[0]
        assert mac_x1 in seen, f"control: the capture saw its own network's traffic: {seen!r}"
        assert mac_a1 not in seen and mac_a2 not in seen, f"net A leaked: {seen}"
