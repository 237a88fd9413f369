"""OVS planner invariants (pure, no OVS): converges, re-apply is a no-op,
incremental == from scratch (up to local VLAN numbering), tampering is repaired."""

from __future__ import annotations

import re

from hypothesis import given, settings, strategies as st

from netledger.libs.events.intents import L2Network, L2Port
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.desired import HostDesired
from netledger.services.l2.ovs import ops as O
from netledger.services.l2.ovs.model import DEAD_VLAN, ObsBridge, ObsPort, OvsObserved
from netledger.services.l2.ovs.plan import LVID_KEY, plan
from netledger.services.l2.ovs.sim import simulate
from netledger.services.l2.ovs.status import port_states

CFG = AgentConfig(host="h1", tunnel_ip="10.250.0.11", bridge_mappings={"physnet1": "br-ex"})
PEERS = ("10.250.0.11", "10.250.0.12", "10.250.0.13")
NETS = {
    "n-vx": L2Network(network_id="n-vx", network_type="vxlan", segmentation_id=100),
    "n-gre": L2Network(network_id="n-gre", network_type="gre", segmentation_id=100),
    "n-gen": L2Network(network_id="n-gen", network_type="geneve", segmentation_id=7),
    "n-vl": L2Network(network_id="n-vl", network_type="vlan", segmentation_id=100, physical_network="physnet1"),
    "n-fl": L2Network(network_id="n-fl", network_type="flat", physical_network="physnet1"),
    "n-lo": L2Network(network_id="n-lo", network_type="local"),
    "n-bad": L2Network(network_id="n-bad", network_type="vlan", segmentation_id=5, physical_network="physnet9"),
}
PORTS = [f"p{i}" for i in range(6)]


def base_observed(plugged: set[str]) -> OvsObserved:
    """A host as the operator leaves it: br-ex exists, instances plugged on br-int."""
    bridges = {"br-ex": ObsBridge(name="br-ex", fail_mode="")}
    ports = {f"tap{p}": ObsPort(name=f"tap{p}", bridge="br-int", iface_id=p, ofport=10 + i)
             for i, p in enumerate(PORTS) if p in plugged}
    if ports:
        bridges["br-int"] = ObsBridge(name="br-int")
    return OvsObserved(bridges=bridges, ports=ports, flows={b: frozenset() for b in bridges})


@st.composite
def desired_states(draw) -> HostDesired:
    ports, nets = {}, {}
    for pid in draw(st.sets(st.sampled_from(PORTS))):
        net = NETS[draw(st.sampled_from(sorted(NETS)))]
        ports[pid] = L2Port(port_id=pid, network_id=net.network_id, mac_address="fa:16:3e:00:00:01",
                            admin_state_up=draw(st.booleans()), network_type=net.network_type,
                            segmentation_id=net.segmentation_id, physical_network=net.physical_network)
    for net_id in draw(st.sets(st.sampled_from(sorted(NETS)))):
        peers = tuple(sorted(draw(st.sets(st.sampled_from(PEERS)))))
        nets[net_id] = L2Network(**{**_fields(NETS[net_id]), "peers": peers})
    return HostDesired(ports=ports, networks=nets)


def _fields(s) -> dict:
    return {f: getattr(s, f) for f in s.__struct_fields__}


def converge(d: HostDesired, o: OvsObserved) -> OvsObserved:
    ops = plan(d, o, CFG)
    o2 = simulate(o, ops)
    assert plan(d, o2, CFG) == [], "planning a converged state must give []"
    assert simulate(o2, ops) == o2, "re-applying the same ops must change nothing"
    return o2


def canonical(o: OvsObserved) -> tuple:
    """State with local VLAN numbers replaced by network ids and sim ofports dropped."""
    ext = o.bridges["br-int"].external_ids if "br-int" in o.bridges else {}
    label = {v: k[len(LVID_KEY):] for k, v in ext.items() if k.startswith(LVID_KEY)}

    def lv(n: str) -> str:
        return label.get(n, n)
    bridges = sorted((b.name, b.fail_mode, b.mine, tuple(sorted(k for k in b.external_ids)))
                     for b in o.bridges.values())
    ports = sorted((p.name, p.bridge, p.type, tuple(sorted(p.options.items())),
                    lv(str(p.tag)) if p.tag not in (None, DEAD_VLAN) else p.tag, p.iface_id, p.mine)
                   for p in o.ports.values())
    flows = []
    for br, fs in o.flows.items():
        for f in fs:
            if br in ("br-tun", "br-ex"):
                f = re.sub(r"dl_vlan=(\d+)", lambda m: "dl_vlan=" + lv(m.group(1)), f)
            if br in ("br-tun", "br-int"):
                f = re.sub(r"mod_vlan_vid:(\d+)", lambda m: "mod_vlan_vid:" + lv(m.group(1)), f)
            flows.append((br, f))
    return bridges, ports, sorted(flows)


@settings(max_examples=150, deadline=None)
@given(desired_states(), st.sets(st.sampled_from(PORTS)))
def test_converges_and_reapply_is_noop(d, plugged):
    converge(d, base_observed(plugged))


@settings(max_examples=150, deadline=None)
@given(desired_states(), desired_states(), st.sets(st.sampled_from(PORTS)))
def test_incremental_equals_scratch(d1, d2, plugged):
    o0 = base_observed(plugged)
    incremental = converge(d2, converge(d1, o0))
    scratch = converge(d2, o0)
    assert canonical(incremental) == canonical(scratch)


@settings(max_examples=100, deadline=None)
@given(desired_states(), st.sets(st.sampled_from(PORTS)), st.data())
def test_tampering_is_repaired(d, plugged, data):
    good = converge(d, base_observed(plugged))
    flows = {b: frozenset(data.draw(st.sets(st.sampled_from(sorted(fs)))) if fs else fs)
             for b, fs in good.flows.items()}
    ports = {n: (ObsPort(**{**_fields(p), "tag": None}) if data.draw(st.booleans()) else p)
             for n, p in good.ports.items()}
    tampered = OvsObserved(bridges=good.bridges, ports=ports, flows=flows)
    assert converge(d, tampered) == good


def test_plan_orders_flow_deletes_first_and_adds_last():
    d = HostDesired(ports={"p0": L2Port(port_id="p0", network_id="n-vx", mac_address="m",
                                        network_type="vxlan", segmentation_id=100)},
                    networks={"n-vx": L2Network(**{**_fields(NETS["n-vx"]), "peers": PEERS})})
    o1 = converge(d, base_observed({"p0"}))
    ops = plan(HostDesired(), o1, CFG)       # port intent deleted: unwire everything
    kinds = [type(op) for op in ops]
    assert kinds[0] is O.DelFlows and O.DelPort in kinds and O.DelLocalVlan in kinds
    assert O.SetPortTag(name="tapp0", tag=DEAD_VLAN) in ops
    o2 = simulate(o1, ops)
    assert not any(p.type == "vxlan" for p in o2.ports.values()), "last port gone: tunnels gone"
    assert not any("0x64" in f for f in o2.flows["br-tun"])


def test_status_active_only_when_wired():
    d = HostDesired(ports={
        "p0": L2Port(port_id="p0", network_id="n-vl", mac_address="m", network_type="vlan",
                     segmentation_id=100, physical_network="physnet1", revision_number=3),
        "p1": L2Port(port_id="p1", network_id="n-vx", mac_address="m", network_type="vxlan", segmentation_id=1),
        "p2": L2Port(port_id="p2", network_id="n-bad", mac_address="m", network_type="vlan",
                     segmentation_id=5, physical_network="physnet9"),
        "p3": L2Port(port_id="p3", network_id="n-vx", mac_address="m", admin_state_up=False,
                     network_type="vxlan", segmentation_id=1)})
    o0 = base_observed({"p0", "p2", "p3"})
    before = port_states(d, o0, CFG)
    assert before["p0"].status == "DOWN"
    after = port_states(d, converge(d, o0), CFG)
    assert (after["p0"].status, after["p0"].revision_number) == ("ACTIVE", 3)
    assert after["p1"].status == "DOWN" and after["p1"].detail == "not plugged"
    assert after["p2"].status == "ERROR"
    assert after["p3"].detail == "admin down"
