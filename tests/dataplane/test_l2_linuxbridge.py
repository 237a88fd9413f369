"""Linux bridge backend, real packets between two simulated hosts without OVS.

Hosts come from ``Cluster(ovs=False)``: the tunnel IP on ``ul0``, physnet1 on ``px0``.
Workers run in-process (``backend=linuxbridge``, ``netns=<host>``); instances are
plugged as plain veths that the worker enslaves. Everything lives in ``nlt<hex>-*``
namespaces that the cluster fixture deletes, even on failure.
"""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest

from netledger.deploy.hosts import Cluster, SimHost, ns_delete
from netledger.libs.events.intents import L2Network, L2Port
from netledger.services.l2 import intents_kv
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.driver_plug import PlugSpec, plug, tap_name, unplug
from netledger.services.l2.linuxbridge.layout import bridge_name
from tests.dataplane.conftest import L2Env, sh

pytestmark = pytest.mark.dataplane
LB = "linuxbridge"
NETS = {
    "vxlan": L2Network(network_id="lbnet-vxlan", network_type="vxlan", segmentation_id=2001),
    "flat": L2Network(network_id="lbnet-flat", network_type="flat", physical_network="physnet1"),
}


class BridgeEnv(L2Env):
    """L2Env with Linux bridge workers and veth-only plugging."""

    def config(self, h: SimHost) -> AgentConfig:
        return AgentConfig(host=h.name, backend=LB, netns=h.netns, tunnel_ip=h.tunnel_ip,
                           bridge_mappings=h.bridge_mappings, resync_interval=1.0, heartbeat_interval=1.0)

    async def instance(self, i: int, port_id: str, mac: str, cidr: str, mtu: int = 1400) -> str:
        h = self.host(i)
        netns = f"{self.cluster.prefix}-vm-{port_id[:8]}"
        await asyncio.to_thread(plug, PlugSpec(port_id=port_id, netns=netns, mac=mac, mtu=mtu,
                                               host_netns=h.netns, backend=LB))
        self.lb_plugged.append((h, port_id, netns))
        sh("ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        sh("ip", "-n", netns, "addr", "add", cidr, "dev", "eth0")
        return netns

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            for host, port_id, netns in self.lb_plugged:
                await asyncio.to_thread(unplug, port_id, netns, host_netns=host.netns, backend=LB)
                ns_delete(netns)


@pytest.fixture(scope="module")
def bridge_cluster():
    with Cluster(count=2, physnet=True, ovs=False) as c:
        yield c
    left = [n for n in sh("ip", "netns", "list").stdout.split() if n.startswith(c.prefix + "-")]
    assert not left, f"namespaces of this run left behind: {left}"


@pytest.fixture
async def bridge_env(bridge_cluster, nats_server, prefix):
    env = BridgeEnv(bridge_cluster, nats_server, prefix)
    env.lb_plugged = []
    try:
        await env.start()
        yield env
    finally:
        await env.close()


def links(host: SimHost) -> str:
    return sh("ip", "-n", host.netns, "-o", "link", "show").stdout


def master_of(host: SimHost, name: str) -> str:
    out = sh("ip", "-n", host.netns, "-o", "link", "show", "dev", name).stdout
    return out.split(" master ")[1].split()[0] if " master " in out else ""


def flood(host: SimHost, dev: str) -> str:
    return sh("bridge", "-n", host.netns, "fdb", "show", "dev", dev).stdout


async def eventually(check, timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("ntype", sorted(NETS))
async def test_two_hosts_ping_and_tcp(bridge_env, net_pair, dp, ntype):
    (_, _, ns1), (_, _, ns2) = await net_pair(bridge_env, NETS[ntype], f"lb{ntype}")
    assert dp.ping(ns1, "10.0.0.2"), f"{ntype}: ping host1 -> host2"
    assert dp.ping(ns2, "10.0.0.1"), f"{ntype}: ping host2 -> host1"
    assert dp.tcp_ok(ns2, ns1, "10.0.0.2"), f"{ntype}: TCP (HTTP) host1 -> host2"
    h0 = bridge_env.host(0)
    hb = bridge_env.heartbeats[h0.name]
    assert (hb.backend, tuple(hb.network_types)) == (LB, ("local", "flat", "vxlan"))
    if ntype == "vxlan":
        assert "dst 10.250.0.12" in flood(h0, "vxlan-2001") and "dst 10.250.0.11" not in flood(h0, "vxlan-2001")


async def test_same_cidr_networks_are_isolated(bridge_env, net_pair, dp):
    """vxlan 100, vxlan 101 and flat share one CIDR: a capture in B and C sees none of A.

    A ping inside each other network at the end is the positive control that the
    capture was really listening.
    """
    nets = [L2Network(network_id="lbiso-a", network_type="vxlan", segmentation_id=100),
            L2Network(network_id="lbiso-b", network_type="vxlan", segmentation_id=101),
            L2Network(network_id="lbiso-c", network_type="flat", physical_network="physnet1")]
    pairs = [await net_pair(bridge_env, n, t) for n, t in zip(nets, ("lbisoa", "lbisob", "lbisoc"))]
    (_, mac_a1, a1), (_, mac_a2, _) = pairs[0]
    watchers = [subprocess.Popen(["ip", "netns", "exec", pair[1][2], "tcpdump", "-enl", "-i", "eth0",
                                  "arp or icmp"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                for pair in pairs[1:]]
    try:
        time.sleep(1.0)                                    # let tcpdump attach
        dp.sh("ip", "-n", a1, "neigh", "flush", "all")
        assert dp.ping(a1, "10.0.0.2", count=5)
        assert mac_a2 in dp.sh("ip", "-n", a1, "neigh", "show", "10.0.0.2").stdout
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


async def test_unsupported_type_reports_error(bridge_env):
    pid = "lbvlan00-0000-4000-8000-000000000000"
    await bridge_env.instance(0, pid, "fa:16:3e:77:00:01", "10.0.0.9/24")
    await bridge_env.put(0, L2Port(port_id=pid, network_id="lbnet-vlan", mac_address="fa:16:3e:77:00:01",
                              network_type="vlan", segmentation_id=10, physical_network="physnet1"))
    await bridge_env.wait_status(pid, "ERROR")
    assert master_of(bridge_env.host(0), tap_name(pid)) == ""


async def test_delete_port_unwires_and_last_port_removes_bridge(bridge_env, net_pair, dp):
    net = L2Network(network_id="lblife", network_type="vxlan", segmentation_id=4243)
    (pa, _, ns_a), (_, _, ns_far) = await net_pair(bridge_env, net, "lblife")
    h0, br = bridge_env.host(0), bridge_name("lblife")
    pb, mac_b = "lblifeb0-0000-4000-8000-000000000000", "fa:16:3e:99:00:0c"
    ns_b = await bridge_env.instance(0, pb, mac_b, "10.0.0.3/24")
    await bridge_env.put(0, L2Port(port_id=pb, network_id="lblife", mac_address=mac_b,
                              network_type="vxlan", segmentation_id=4243))
    await bridge_env.wait_status(pb, "ACTIVE")
    assert master_of(h0, tap_name(pb)) == br and dp.ping(ns_b, "10.0.0.2")

    await intents_kv.delete_port(bridge_env.kv, h0.name, pb)       # one of two ports goes
    await eventually(lambda: master_of(h0, tap_name(pb)) == "", what="tap released")
    assert not dp.ping(ns_b, "10.0.0.2", count=2), "an unwired port must not reach the network"
    assert "vxlan-4243" in links(h0) and dp.ping(ns_a, "10.0.0.2")

    await intents_kv.delete_port(bridge_env.kv, h0.name, pa)       # the last port goes
    await eventually(lambda: br not in links(h0) and "vxlan-4243" not in links(h0),
                     what="bridge and vxlan removed")
    assert master_of(h0, tap_name(pa)) == ""
    assert not dp.ping(ns_far, "10.0.0.1", count=2)


async def test_restart_with_nothing_changed_writes_nothing(bridge_env, net_pair, dp):
    net = L2Network(network_id="lbrst", network_type="vxlan", segmentation_id=4244)
    (_, _, ns1), (p2, _, _) = await net_pair(bridge_env, net, "lbrst")
    for h in bridge_env.cluster.hosts:
        await bridge_env.stop_worker(h)
        w = await bridge_env.start_worker(h)
        assert w.startup_writes == 0, f"{h.name}: restart wrote {w.startup_writes} times"
    await asyncio.sleep(2.5)                                 # two periodic full observes
    for w in bridge_env.workers.values():
        assert w.writes == 0 and w.batches >= 2, (w.cfg.host, w.writes, w.batches)
    assert dp.ping(ns1, "10.0.0.2")

    h1 = bridge_env.host(1)                  # a change made while the worker is down is applied at start
    await bridge_env.stop_worker(h1)
    await intents_kv.delete_port(bridge_env.kv, h1.name, p2)
    w = await bridge_env.start_worker(h1)
    assert w.startup_writes > 0 and "vxlan-4244" not in links(h1)


async def test_tampering_is_repaired(bridge_env, net_pair, dp):
    net = L2Network(network_id="lbtmp", network_type="vxlan", segmentation_id=4245)
    (p1, _, ns1), _ = await net_pair(bridge_env, net, "lbtmp")
    h0, br, tap = bridge_env.host(0), bridge_name("lbtmp"), tap_name(p1)
    w = bridge_env.workers[h0.name]
    before = w.writes
    sh("bridge", "-n", h0.netns, "fdb", "del", "00:00:00:00:00:00", "dev", "vxlan-4245", "dst", "10.250.0.12")
    sh("ip", "-n", h0.netns, "link", "set", "vxlan-4245", "down")
    sh("ip", "-n", h0.netns, "link", "set", tap, "nomaster")
    await eventually(lambda: "dst 10.250.0.12" in flood(h0, "vxlan-4245") and master_of(h0, tap) == br
                     and ",UP" in sh("ip", "-n", h0.netns, "-o", "link", "show", "vxlan-4245").stdout,
                     what="flood entry, link state and enslavement repaired")
    await eventually(lambda: w.writes - before >= 3, what="write counter")
    await asyncio.sleep(1.5)                                  # one more full observe
    assert w.writes - before == 3, "exactly the three broken things were rewritten, once"
    await bridge_env.wait_status(p1, "ACTIVE")
    assert dp.ping(ns1, "10.0.0.2")
