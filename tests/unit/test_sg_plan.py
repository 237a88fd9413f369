"""SG flows through the real OVS planner (pure): the three invariants, incremental
rule/membership changes, and the port-range decomposition."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from netledger.libs.events.intents import AllowedPair, L2Network, L2Port, SecurityGroupIntent, SgMembers, SgRuleIntent
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.desired import HostDesired
from netledger.services.l2.ovs import ops as O
from netledger.services.l2.ovs.model import ObsBridge, ObsPort, OvsObserved
from netledger.services.l2.ovs.plan import plan
from netledger.services.l2.ovs.sim import simulate
from netledger.services.l2.sg.model import port_masks

CFG = AgentConfig(host="h1", tunnel_ip="10.250.0.11")
NET = L2Network(network_id="n-vx", network_type="vxlan", segmentation_id=100, peers=("10.250.0.12",))
PORTS = [f"p{i}" for i in range(4)]
RULES = [
    SgRuleIntent(direction="egress"), SgRuleIntent(direction="egress", ethertype="IPv6"),
    SgRuleIntent(direction="ingress", remote_group_id="sg-a"),
    SgRuleIntent(direction="ingress", protocol=6, port_range_min=8080, port_range_max=8080),
    SgRuleIntent(direction="ingress", protocol=6, port_range_min=1000, port_range_max=1999,
                 remote_ip_prefix="10.1.0.0/16"),
    SgRuleIntent(direction="ingress", protocol=1, port_range_min=8, port_range_max=0),
    SgRuleIntent(direction="ingress", protocol=6, port_range_min=22, port_range_max=22, remote_group_id="sg-b"),
    SgRuleIntent(direction="ingress", ethertype="IPv6", protocol=58),
]
ADDRS = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.9.0.0/24", "fd00::5"]


def port(pid: str, i: int, groups=("sg-a",), security=True, pairs=()) -> L2Port:
    return L2Port(port_id=pid, network_id="n-vx", mac_address=f"fa:16:3e:00:00:0{i}", fixed_ips=(f"10.0.0.{i + 1}",),
                  network_type="vxlan", segmentation_id=100, port_security_enabled=security,
                  security_groups=tuple(groups), allowed_address_pairs=tuple(pairs))


def observed() -> OvsObserved:
    ports = {f"tap{p}": ObsPort(name=f"tap{p}", bridge="br-int", iface_id=p, ofport=10 + i)
             for i, p in enumerate(PORTS)}
    return OvsObserved(bridges={"br-int": ObsBridge(name="br-int")}, ports=ports, flows={"br-int": frozenset()})


@st.composite
def sg_states(draw) -> HostDesired:
    ports = {}
    for i, pid in enumerate(PORTS):
        if draw(st.booleans()):
            groups = draw(st.sets(st.sampled_from(["sg-a", "sg-b"])))
            pairs = [AllowedPair(ip_address=a) for a in draw(st.sets(st.sampled_from(ADDRS), max_size=2))]
            ports[pid] = port(pid, i, sorted(groups), security=draw(st.booleans()), pairs=pairs)
    sgs = {g: SecurityGroupIntent(sg_id=g, rules=tuple(draw(st.sets(st.sampled_from(RULES)))))
           for g in ("sg-a", "sg-b") if draw(st.booleans())}
    members = {g: SgMembers(sg_id=g, addresses=tuple(sorted(draw(st.sets(st.sampled_from(ADDRS))))))
               for g in ("sg-a", "sg-b") if draw(st.booleans())}
    return HostDesired(ports=ports, networks={"n-vx": NET}, security_groups=sgs, sg_members=members)


def converge(d: HostDesired, o: OvsObserved) -> OvsObserved:
    ops = plan(d, o, CFG)
    o2 = simulate(o, ops)
    assert plan(d, o2, CFG) == [], "planning a converged state must give []"
    assert simulate(o2, ops) == o2
    return o2


@settings(max_examples=120, deadline=None)
@given(sg_states())
def test_converges_and_reapply_is_noop(d):
    converge(d, observed())


@settings(max_examples=120, deadline=None)
@given(sg_states(), sg_states())
def test_incremental_equals_scratch(d1, d2):
    assert converge(d2, converge(d1, observed())).flows == converge(d2, observed()).flows


def _flow_ops(ops) -> tuple[set[str], set[str]]:
    adds = {f for op in ops if isinstance(op, O.AddFlows) for f in op.flows}
    dels = {f for op in ops if isinstance(op, O.DelFlows) for f in op.flows}
    return adds, dels


def _base(rules, members=("10.0.0.1", "10.0.0.2")) -> HostDesired:
    return HostDesired(ports={"p0": port("p0", 0), "p1": port("p1", 1)}, networks={"n-vx": NET},
                       security_groups={"sg-a": SecurityGroupIntent(sg_id="sg-a", rules=tuple(rules))},
                       sg_members={"sg-a": SgMembers(sg_id="sg-a", addresses=tuple(members))})


def test_rule_change_only_touches_that_rules_flows():
    o = converge(_base(RULES[:3]), observed())
    adds, dels = _flow_ops(plan(_base(RULES[:4]), o, CFG))
    assert not dels
    assert len(adds) == 2 and all("tp_dst=8080" in f and "table=82" in f for f in adds)   # one per filtered port


def test_membership_change_only_touches_member_flows():
    o = converge(_base(RULES[:3]), observed())
    adds, dels = _flow_ops(plan(_base(RULES[:3], members=("10.0.0.1", "10.0.0.2", "10.0.0.7")), o, CFG))
    assert not dels and adds and all("nw_src=10.0.0.7" in f and "conjunction(" in f for f in adds)


def test_port_security_off_means_no_sg_flows_and_spoof_guard_when_on():
    off = HostDesired(ports={"p0": port("p0", 0, groups=(), security=False)}, networks={"n-vx": NET})
    flows = converge(off, observed()).flows["br-int"]
    assert not any("table=7" in f or "table=8" in f for f in flows)
    on = converge(_base(RULES[:1]), observed()).flows["br-int"]
    assert any("nw_src=10.0.0.1" in f and "reg5=0xa" in f for f in on)
    assert not any("nw_src=10.0.0.2" in f and "reg5=0xa" in f and "table=71" in f for f in on)


def test_port_masks_cover_exactly():
    for lo, hi in [(1, 65535), (8080, 8080), (1000, 1999), (0, 65535), (22, 23), (1, 1)]:
        covered = set()
        for value, mask in port_masks(lo, hi):
            size = (~mask & 0xFFFF) + 1
            assert value & ~mask & 0xFFFF == 0
            covered |= set(range(value, value + size))
        assert covered == set(range(lo, hi + 1)), (lo, hi)


def test_addresses_render_as_ovs_prints_them():
    """Rendered matches must equal what OVS dumps back, or the planner rewrites them forever."""
    from netledger.services.l2.sg.ovs_flows import _addr

    assert _addr("nw_src", "0.0.0.0/0") == ""
    assert _addr("nw_src", "10.0.0.5/32") == ",nw_src=10.0.0.5"
    assert _addr("ipv6_src", "2001:db8::1/128") == ",ipv6_src=2001:db8::1"
    assert _addr("nw_src", "10.1.0.0/16") == ",nw_src=10.1.0.0/16"
    assert _addr("nw_src", "10.1.2.3/16") == ",nw_src=10.1.0.0/16"
