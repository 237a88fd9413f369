"""Unwiring on intent delete, restart without writes, repair of out-of-band tampering."""

from __future__ import annotations

import asyncio
import time

import pytest

from netledger.libs.events.intents import L2Network, L2Port
from netledger.services.l2 import intents_kv
from netledger.services.l2.config import COOKIE
from netledger.services.l2.ovs.model import DEAD_VLAN

pytestmark = pytest.mark.dataplane
NET = L2Network(network_id="life-net", network_type="vxlan", segmentation_id=4242)


def tag_of(host, port_name: str) -> str:
    return host.ovs.vsctl("get", "Port", port_name, "tag").strip()


def our_flows(host, bridge: str) -> str:
    return host.ovs.ofctl("dump-flows", bridge, "--no-stats", f"cookie={COOKIE:#x}/-1")


async def eventually(check, timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.1)


async def test_delete_port_intent_unwires_and_last_port_removes_tunnels(l2env, net_pair, dp):
    (pa, _, ns_a), (_, _, ns_far) = await net_pair(l2env, NET, "life")
    h0 = l2env.host(0)
    pb, mac_b = "lifeb000-0000-4000-8000-000000000000", "fa:16:3e:99:00:0b"
    ns_b = await l2env.instance(0, pb, mac_b, "10.0.0.3/24")
    await l2env.put(0, L2Port(port_id=pb, network_id=NET.network_id, mac_address=mac_b,
                              network_type="vxlan", segmentation_id=4242))
    await l2env.wait_status(pb, "ACTIVE")
    assert dp.ping(ns_b, "10.0.0.2")

    await intents_kv.delete_port(l2env.kv, h0.name, pb)     # one of two ports goes
    await eventually(lambda: tag_of(h0, dp.tap_name(pb)) == str(DEAD_VLAN), what="dead vlan tag")
    assert not dp.ping(ns_b, "10.0.0.2", count=2), "an unwired port must not reach the network"
    assert "vxlan-" in h0.ovs.vsctl("list-ports", "br-tun"), "the network still has a port here"
    assert dp.ping(ns_a, "10.0.0.2")

    await intents_kv.delete_port(l2env.kv, h0.name, pa)     # the last port goes
    await eventually(lambda: "vxlan-" not in h0.ovs.vsctl("list-ports", "br-tun"), what="tunnel removed")
    flows = our_flows(h0, "br-tun")
    assert "0x1092" not in flows, f"no flows for the network's VNI (4242) left: {flows}"
    assert "dl_vlan=" not in flows and "in_port=vxlan" not in flows
    ext = h0.ovs.vsctl("get", "Bridge", "br-int", "external_ids")
    assert "life-net" not in ext, "local VLAN released"
    assert tag_of(h0, dp.tap_name(pa)) == str(DEAD_VLAN)
    assert not dp.ping(ns_far, "10.0.0.1", count=2)


async def test_restart_with_nothing_changed_writes_nothing(l2env, net_pair, dp):
    (_, _, ns1), (p2, _, _) = await net_pair(l2env, NET, "rst")
    for h in l2env.cluster.hosts:
        await l2env.stop_worker(h)
        w = await l2env.start_worker(h)
        assert w.startup_writes == 0, f"{h.name}: restart wrote {w.startup_writes} times"
    await asyncio.sleep(2.5)                                 # two periodic full observes
    for w in l2env.workers.values():
        assert w.writes == 0 and w.batches >= 2, (w.cfg.host, w.writes, w.batches)
    assert dp.ping(ns1, "10.0.0.2")

    # a change made while the worker was down is applied at start (level-triggered)
    h1 = l2env.host(1)
    await l2env.stop_worker(h1)
    await intents_kv.delete_port(l2env.kv, h1.name, p2)
    w = await l2env.start_worker(h1)
    assert w.startup_writes > 0
    assert tag_of(h1, dp.tap_name(p2)) == str(DEAD_VLAN)


async def test_tampering_is_repaired(l2env, net_pair, dp):
    (p1, _, ns1), _ = await net_pair(l2env, NET, "tmp")
    h0 = l2env.host(0)
    tap = dp.tap_name(p1)
    lvid = tag_of(h0, tap)
    before = l2env.workers[h0.name].writes
    h0.ovs.ofctl("del-flows", "br-tun", "--strict", "table=4,priority=1,tun_id=0x1092")
    h0.ovs.vsctl("clear", "Port", tap, "tag")
    assert "tun_id=0x1092" not in our_flows(h0, "br-tun")
    await eventually(lambda: "tun_id=0x1092" in our_flows(h0, "br-tun") and tag_of(h0, tap) == lvid,
                     what="flow and tag repaired")
    w = l2env.workers[h0.name]
    await eventually(lambda: w.writes - before >= 2, what="write counter")   # same loop: let it resume
    await asyncio.sleep(1.5)                                                 # one more full observe
    assert w.writes - before == 2, "exactly the two missing things were rewritten, once"
    assert dp.ping(ns1, "10.0.0.2")
