"""Linux bridge planner invariants (pure, no kernel): converges, re-apply is a no-op,
incremental == from scratch, tampering is repaired; foreign links are never touched;
status; what a Linux bridge host advertises and how the API binds on it."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings, strategies as st

from netledger.libs.events.intents import L2Network, L2Port
from netledger.libs.events.status import AgentHeartbeat
from netledger.services.api.deciders.binding import bind
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.desired import HostDesired
from netledger.services.l2.linuxbridge import ops as O
from netledger.services.l2.linuxbridge.layout import bridge_name
from netledger.services.l2.linuxbridge.model import BridgeObserved, ObsLink
from netledger.services.l2.linuxbridge.plan import plan
from netledger.services.l2.linuxbridge.sim import simulate
from netledger.services.l2.linuxbridge.status import port_states

CFG = AgentConfig(host="h1", backend="linuxbridge", tunnel_ip="10.250.0.11",
                  bridge_mappings={"physnet1": "px0"})
PEERS = ("10.250.0.11", "10.250.0.12", "10.250.0.13")
NETS = {
    "n-vx": L2Network(network_id="n-vx", network_type="vxlan", segmentation_id=100, mtu=1450),
    "n-vx2": L2Network(network_id="n-vx2", network_type="vxlan", segmentation_id=101, mtu=1400),
    "n-fl": L2Network(network_id="n-fl", network_type="flat", physical_network="physnet1", mtu=1500),
    "n-fl2": L2Network(network_id="n-fl2", network_type="flat", physical_network="physnet1", mtu=1500),
    "n-lo": L2Network(network_id="n-lo", network_type="local"),
    "n-vl": L2Network(network_id="n-vl", network_type="vlan", segmentation_id=5, physical_network="physnet1"),
    "n-bad": L2Network(network_id="n-bad", network_type="flat", physical_network="physnet9"),
}
PORTS = [f"p{i}" for i in range(6)]
FOREIGN = {"br-other": ObsLink(name="br-other", kind="bridge", up=True),
           "tapforeign": ObsLink(name="tapforeign", kind="veth", master="br-other", up=True),
           "brq-notours": ObsLink(name="brq-notours", kind="bridge", up=True),
           "px0": ObsLink(name="px0", kind="veth", up=True, mtu=1500)}


def base_observed(plugged: set[str]) -> BridgeObserved:
    """A host as the operator leaves it: px0 up, other bridges, instances plugged (up)."""
    taps = {f"tap{p}": ObsLink(name=f"tap{p}", kind="veth", up=True, mtu=1450) for p in plugged}
    return BridgeObserved(links={**FOREIGN, **taps})


def _fields(s) -> dict:
    return {f: getattr(s, f) for f in s.__struct_fields__}


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


def converge(d: HostDesired, o: BridgeObserved) -> BridgeObserved:
    ops = plan(d, o, CFG)
    o2 = simulate(o, ops)
    assert plan(d, o2, CFG) == [], "planning a converged state must give []"
    assert simulate(o2, ops) == o2, "re-applying the same ops must change nothing"
    assert all(op.name not in FOREIGN or isinstance(op, (O.SetMaster, O.SetUp))
               for op in ops if hasattr(op, "name")), "foreign links are never created/deleted"
    assert not any(getattr(op, "name", "") in ("br-other", "tapforeign", "brq-notours") for op in ops)
    return o2


def canonical(o: BridgeObserved) -> tuple:
    """State up to the admin state of links that are neither ours nor enslaved (left as is)."""
    links = sorted((ln.name, ln.kind, ln.master, ln.up if (ln.mine or ln.master) else None, ln.mtu,
                    ln.mine, ln.vni, ln.local) for ln in o.links.values())
    return links, sorted((d, tuple(sorted(v))) for d, v in o.fdb.items())


@settings(max_examples=200, deadline=None)
@given(desired_states(), st.sets(st.sampled_from(PORTS)))
def test_converges_and_reapply_is_noop(d, plugged):
    converge(d, base_observed(plugged))


@settings(max_examples=200, deadline=None)
@given(desired_states(), desired_states(), st.sets(st.sampled_from(PORTS)))
def test_incremental_equals_scratch(d1, d2, plugged):
    o0 = base_observed(plugged)
    assert canonical(converge(d2, converge(d1, o0))) == canonical(converge(d2, o0))


@settings(max_examples=150, deadline=None)
@given(desired_states(), st.sets(st.sampled_from(PORTS)), st.data())
def test_tampering_is_repaired(d, plugged, data):
    good = converge(d, base_observed(plugged))
    ours = sorted(n for n, ln in good.links.items() if ln.mine or ln.master.startswith("brq-"))
    tamper: list[O.Op] = []
    for name in data.draw(st.lists(st.sampled_from(ours), max_size=4, unique=True)) if ours else []:
        kinds = [O.DelLink(name=name)] if good.links[name].mine else []     # a NIC is not ours to delete
        tamper.append(data.draw(st.sampled_from([*kinds, O.SetMaster(name=name, master="")])))
    bad = simulate(good, tamper)
    links = {n: (ObsLink(**{**_fields(ln), "up": False, "mine": False})
                 if n in ours and data.draw(st.booleans()) else ln) for n, ln in bad.links.items()}
    fdb = {dev: frozenset(data.draw(st.sets(st.sampled_from(sorted(v)))) if v else v)
           for dev, v in bad.fdb.items()}
    tampered = BridgeObserved(links=links, fdb=fdb)
    repaired = converge(d, tampered)
    assert canonical(repaired) == canonical(good)


def _vx_desired(*pids: str, admin: bool = True) -> HostDesired:
    ports = {p: L2Port(port_id=p, network_id="n-vx", mac_address="m", network_type="vxlan",
                       segmentation_id=100, admin_state_up=admin, revision_number=2) for p in pids}
    return HostDesired(ports=ports, networks={"n-vx": L2Network(**{**_fields(NETS["n-vx"]), "peers": PEERS})})


def test_wiring_a_vxlan_port_from_scratch():
    ops = plan(_vx_desired("p0"), base_observed({"p0"}), CFG)
    br = bridge_name("n-vx")
    assert ops == [O.AddLink(name=br, kind="bridge"),
                   O.AddLink(name="vxlan-100", kind="vxlan", vni=100, local="10.250.0.11", mtu=1450),
                   O.SetMaster(name="tapp0", master=br), O.SetMaster(name="vxlan-100", master=br),
                   O.SetUp(name=br), O.SetUp(name="vxlan-100"),
                   O.AddFlood(dev="vxlan-100", dst="10.250.0.12"),
                   O.AddFlood(dev="vxlan-100", dst="10.250.0.13")], "flood only to peers, not ourselves"


def test_last_port_gone_removes_bridge_and_vxlan_and_releases_tap():
    o1 = converge(_vx_desired("p0", "p1"), base_observed({"p0", "p1"}))
    one = plan(_vx_desired("p1"), o1, CFG)
    assert one == [O.SetMaster(name="tapp0", master="")], "one of two ports goes: only its tap"
    ops = plan(HostDesired(), o1, CFG)
    assert ops == [O.DelLink(name="vxlan-100"), O.DelLink(name=bridge_name("n-vx"))], \
        "deleting the bridge releases its taps: no separate writes"
    o2 = simulate(o1, ops)
    assert canonical(o2) == canonical(base_observed({"p0", "p1"})) and o2.fdb == {}


def test_peer_change_touches_only_flood_entries():
    o1 = converge(_vx_desired("p0"), base_observed({"p0"}))
    d = _vx_desired("p0")
    d = HostDesired(ports=d.ports, networks={"n-vx": L2Network(**{**_fields(NETS["n-vx"]),
                                                                  "peers": ("10.250.0.13", "10.250.0.14")})})
    assert plan(d, o1, CFG) == [O.DelFlood(dev="vxlan-100", dst="10.250.0.12"),
                                O.AddFlood(dev="vxlan-100", dst="10.250.0.14")]


def test_changed_tunnel_ip_recreates_vxlan():
    o1 = converge(_vx_desired("p0"), base_observed({"p0"}))
    cfg = msgspec.structs.replace(CFG, tunnel_ip="10.250.0.99")
    ops = plan(_vx_desired("p0"), o1, cfg)
    assert ops[0] == O.DelLink(name="vxlan-100")
    assert O.AddLink(name="vxlan-100", kind="vxlan", vni=100, local="10.250.0.99", mtu=1450) in ops
    assert len([op for op in ops if isinstance(op, O.AddFlood)]) == 3


def test_status_active_only_when_wired():
    d = HostDesired(ports={
        "p0": L2Port(port_id="p0", network_id="n-fl", mac_address="m", network_type="flat",
                     physical_network="physnet1", revision_number=3),
        "p1": L2Port(port_id="p1", network_id="n-vx", mac_address="m", network_type="vxlan", segmentation_id=100),
        "p2": L2Port(port_id="p2", network_id="n-vl", mac_address="m", network_type="vlan",
                     segmentation_id=5, physical_network="physnet1"),
        "p3": L2Port(port_id="p3", network_id="n-vx", mac_address="m", admin_state_up=False,
                     network_type="vxlan", segmentation_id=100)},
        networks={"n-vx": L2Network(**{**_fields(NETS["n-vx"]), "peers": PEERS})})
    o0 = base_observed({"p0", "p2", "p3"})
    assert port_states(d, o0, CFG)["p0"].status == "DOWN"
    o1 = converge(d, o0)
    after = port_states(d, o1, CFG)
    assert (after["p0"].status, after["p0"].revision_number) == ("ACTIVE", 3)
    assert (after["p1"].status, after["p1"].detail) == ("DOWN", "not plugged")
    assert after["p2"].status == "ERROR" and "not supported" in after["p2"].detail
    assert after["p3"].detail == "admin down"
    no_flood = BridgeObserved(links=o1.links, fdb={})
    d_vx = _vx_desired("p0")
    o_vx = converge(d_vx, base_observed({"p0"}))
    assert port_states(d_vx, o_vx, CFG)["p0"].status == "ACTIVE"
    assert port_states(d_vx, BridgeObserved(links=o_vx.links, fdb={}), CFG)["p0"].status == "DOWN"
    assert no_flood.links["px0"].master == bridge_name("n-fl")


def test_linuxbridge_host_serves_local_flat_vxlan_and_binds_bridge():
    assert CFG.network_types == ("local", "flat", "vxlan")
    assert AgentConfig(host="h", tunnel_ip="10.0.0.1", bridge_mappings={"p": "b"}).network_types == (
        "local", "flat", "vlan", "vxlan", "gre", "geneve"), "OVS hosts unchanged"
    hb = AgentHeartbeat(agent_id="a", host="h1", agent_type="Linux bridge agent", binary="b",
                        backend="linuxbridge", tunnel_ip=CFG.tunnel_ip,
                        bridge_mappings=dict(CFG.bridge_mappings), network_types=CFG.network_types)
    body = msgspec.to_builtins(hb)

    class Agents:                  # the API's agent view, holding this one heartbeat
        def live_on(self, host):
            return [body] if host == "h1" else []

    vxlan = {"provider:network_type": "vxlan", "provider:segmentation_id": 7}
    flat = {"provider:network_type": "flat", "provider:physical_network": "physnet1"}
    assert bind("h1", vxlan, Agents().live_on("h1"))[0] == "bridge"
    assert bind("h1", flat, Agents().live_on("h1"))[0] == "bridge"
    for ntype in ("vlan", "gre", "geneve"):
        net = {"provider:network_type": ntype, "provider:physical_network": "physnet1" if ntype == "vlan" else None}
        assert bind("h1", net, Agents().live_on("h1")) == ("binding_failed", {})
