"""Linux bridge security groups (pure): the three planner invariants with SG tables and
anti-spoofing guards, ordering (filter before wiring), mark slots (unique per host, the
same in a port's two tables, collisions resolved the same from scratch and
incrementally, a port without a slot kept off the bridge), digests, parsing nft's
listing, the nft script."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid

import msgspec
from hypothesis import given, settings, strategies as st
import pytest

from netledger.libs.events.intents import L2Network, L2Port, SecurityGroupIntent, SgMembers, SgRuleIntent
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.desired import HostDesired
from netledger.services.l2.linuxbridge import ops as O
from netledger.services.l2.linuxbridge.driver_linuxbridge import _LIST_OURS
from netledger.services.l2.linuxbridge.model import BridgeObserved, ObsLink
from netledger.services.l2.linuxbridge.plan import plan
from netledger.services.l2.linuxbridge.sg import (
    parse_tables, replace_script, stamp, wanted_guards, wanted_sg, wanted_tables,
)
from netledger.services.l2.linuxbridge.sim import simulate
from netledger.services.l2.linuxbridge.status import port_states
from netledger.services.l2.sg import marks
from netledger.services.l2.sg.render_nft import table_name
from netledger.services.l2.sg.render_nft_bridge import guard_table_name

CFG = AgentConfig(host="h1", backend="linuxbridge", tunnel_ip="10.250.0.11", bridge_mappings={"physnet1": "px0"})
NETS = {"n-vx": L2Network(network_id="n-vx", network_type="vxlan", segmentation_id=100,
                          peers=("10.250.0.11", "10.250.0.12")),
        "n-fl": L2Network(network_id="n-fl", network_type="flat", physical_network="physnet1")}
# p11 and p28 want the same mark slot, and p6004 the one p28 then probes into (test_sg_marks)
PORTS = [f"p{i}" for i in range(5)] + ["p11", "p28", "p6004"]
RULES = [SgRuleIntent(direction="egress"),
         SgRuleIntent(direction="ingress", remote_group_id="sg-a"),
         SgRuleIntent(direction="ingress", protocol=6, port_range_min=8080, port_range_max=8080),
         SgRuleIntent(direction="ingress", protocol=1, port_range_min=8),
         SgRuleIntent(direction="ingress", ethertype="IPv6", protocol=58)]
FOREIGN = {"px0": ObsLink(name="px0", kind="veth", up=True)}


def base_observed(plugged: set[str], nft: dict[str, str] | None = None, nf: bool = False,
                  guards: dict[str, str] | None = None) -> BridgeObserved:
    taps = {f"tap{p}": ObsLink(name=f"tap{p}", kind="veth", up=True) for p in plugged}
    return BridgeObserved(links={**FOREIGN, **taps}, nft=nft or {}, nft_bridge=guards or {},
                      nf_call_iptables=nf, nf_call_ip6tables=nf)


def port(pid: str, net: str = "n-vx", secure: bool = True, groups=("sg-a",), admin: bool = True) -> L2Port:
    n = NETS[net]
    return L2Port(port_id=pid, network_id=net, mac_address=f"fa:16:3e:00:00:0{pid[-1]}",
                  fixed_ips=(f"10.0.0.{pid[-1]}",),
                  network_type=n.network_type, segmentation_id=n.segmentation_id,
                  physical_network=n.physical_network, admin_state_up=admin,
                  port_security_enabled=secure, security_groups=groups if secure else ())


def desired(*ports: L2Port, rules=tuple(RULES), members=("10.0.0.1",)) -> HostDesired:
    return HostDesired(ports={p.port_id: p for p in ports}, networks=dict(NETS),
                       security_groups={"sg-a": SecurityGroupIntent(sg_id="sg-a", rules=rules),
                                        "sg-b": SecurityGroupIntent(sg_id="sg-b", rules=(RULES[0],))},
                       sg_members={"sg-a": SgMembers(sg_id="sg-a", addresses=tuple(members))})


@st.composite
def desired_states(draw) -> HostDesired:
    ports = [port(pid, net=draw(st.sampled_from(sorted(NETS))), secure=draw(st.booleans()),
                  groups=tuple(sorted(draw(st.sets(st.sampled_from(["sg-a", "sg-b", "sg-missing"]))))),
                  admin=draw(st.booleans()))
             for pid in sorted(draw(st.sets(st.sampled_from(PORTS))))]
    rules = tuple(draw(st.lists(st.sampled_from(RULES), unique=True)))
    members = sorted(draw(st.sets(st.sampled_from(["10.0.0.1", "10.0.0.2", "fd00::1"]))))
    return desired(*ports, rules=rules, members=members)


@st.composite
def observed_states(draw) -> BridgeObserved:
    """Plugged taps, leftover/unmarked/stale tables and guards of ours, either br_netfilter state."""
    nft = {table_name(p): draw(st.sampled_from(["", "stale"])) for p in draw(st.sets(st.sampled_from(PORTS)))}
    guards = {guard_table_name(p): draw(st.sampled_from(["", "stale"])) for p in draw(st.sets(st.sampled_from(PORTS)))}
    return base_observed(draw(st.sets(st.sampled_from(PORTS))), nft, draw(st.booleans()), guards)


def converge(d: HostDesired, o: BridgeObserved) -> BridgeObserved:
    ops = plan(d, o, CFG)
    o2 = simulate(o, ops)
    assert plan(d, o2, CFG) == [], "planning a converged state must give []"
    assert simulate(o2, ops) == o2, "re-applying the same ops must change nothing"
    return o2


def slots(d: HostDesired, o: BridgeObserved) -> dict[str, int]:
    """Port id -> the mark slot both of its wanted tables carry (asserted equal)."""
    out = {}
    tables, guards = wanted_tables(d, NETS, o), wanted_guards(d, NETS, o)
    for name, t in tables.items():
        pid = name[len("nl-sg-"):]
        table_slot = re.search(r"== 0x([0-9a-f]{3})00000 jump port_out", t.text).group(1)
        guard_slot = re.search(r"\| 0x([0-9a-f]{3})00000 jump port_out", guards[guard_table_name(pid)].text).group(1)
        assert table_slot == guard_slot, f"{pid}: table and guard disagree on the slot"
        assert f"== 0x000{table_slot}00 jump port_in" in t.text
        out[pid] = int(table_slot, 16)
    return out


def sg_state(o: BridgeObserved) -> tuple:
    return sorted(o.nft.items()), sorted(o.nft_bridge.items()), o.nf_call_iptables, o.nf_call_ip6tables


@settings(max_examples=200, deadline=None)
@given(desired_states(), observed_states())
def test_converges_and_reapply_is_noop(d, o):
    o2 = converge(d, o)
    want = wanted_tables(d, NETS, o2)
    assert o2.nft == {n: t.digest for n, t in want.items()}, "exactly the filtered ports' tables, current"
    guards = wanted_guards(d, NETS, o2)
    assert o2.nft_bridge == {n: t.digest for n, t in guards.items()}, "and exactly their guards, current"
    assert {n[len("nl-as-"):] for n in guards} == {n[len("nl-sg-"):] for n in want}, "a guard per filtered port"
    assert o2.nf_call_iptables == o2.nf_call_ip6tables == bool(want), "br_netfilter on iff anything filtered"
    got = slots(d, o2)
    assert len(set(got.values())) == len(got), "no two ports of the host share a mark slot"


@settings(max_examples=200, deadline=None)
@given(desired_states(), desired_states(), observed_states())
def test_incremental_equals_scratch(d1, d2, o):
    assert sg_state(converge(d2, converge(d1, o))) == sg_state(converge(d2, o))


@settings(max_examples=100, deadline=None)
@given(desired_states(), observed_states())
def test_filter_is_in_place_before_any_tap_is_wired(d, o):
    ops = plan(d, o, CFG)
    wiring = [i for i, op in enumerate(ops) if isinstance(op, (O.SetMaster, O.SetUp)) and op.name.startswith("tap")]
    sg = [i for i, op in enumerate(ops) if isinstance(op, O.ReplaceNftTable)
          or (isinstance(op, O.SetBridgeNf) and op.on)]
    assert not wiring or not sg or max(sg) < min(wiring)


def test_only_changed_tables_are_replaced_and_unfiltered_ports_get_nothing():
    d = desired(port("p1"), port("p2"), port("p3", secure=False))
    o = converge(d, base_observed({"p1", "p2", "p3"}))
    assert set(o.nft) == {table_name("p1"), table_name("p2")}, "port security off: no table"
    assert set(o.nft_bridge) == {guard_table_name("p1"), guard_table_name("p2")}, "port security off: no guard"
    # a rule change touches both tables, a membership change too (never a guard); a port
    # change only its own table and guard, in one nft transaction (guard first)
    assert plan(desired(port("p1"), port("p2"), port("p3", secure=False), members=("10.0.0.9",)), o, CFG) == [
        O.ReplaceNftTable(name=table_name(p), digest=t.digest, text=t.text)
        for p in ("p1", "p2")
        for t in [wanted_tables(desired(port("p1"), port("p2"), members=("10.0.0.9",)), NETS, o)[table_name(p)]]]
    moved = desired(port("p1"), msgspec.structs.replace(port("p2"), fixed_ips=("10.0.0.7",)), port("p3", secure=False))
    assert [f"{type(op).__name__}:{op.family}:{op.name}" for op in plan(moved, o, CFG)] == [
        f"ReplaceNftTable:bridge:{guard_table_name('p2')}", f"ReplaceNftTable:inet:{table_name('p2')}"]
    # p1 turns port security off: its table and guard go, br_netfilter stays on for p2
    off = desired(port("p1", secure=False), port("p2"), port("p3", secure=False))
    assert plan(off, o, CFG) == [O.DelNftTable(name=guard_table_name("p1"), family="bridge"),
                                 O.DelNftTable(name=table_name("p1"))]
    # nothing filtered any more: the last tables go and br_netfilter is switched off
    none = desired(port("p1", secure=False), port("p2", secure=False), port("p3", secure=False))
    assert plan(none, o, CFG) == [O.DelNftTable(name=guard_table_name("p1"), family="bridge"),
                                  O.DelNftTable(name=guard_table_name("p2"), family="bridge"),
                                  O.DelNftTable(name=table_name("p1")), O.DelNftTable(name=table_name("p2")),
                                  O.SetBridgeNf(on=False)]


def test_colliding_ports_get_distinct_slots_and_a_move_is_one_transaction():
    """p11 and p28 prefer the same slot; whichever came first, p11 (sorted first) holds
    it. A newcomer that takes a slot moves the ports behind it in the probe chain, and
    their tables and guards are replaced together with its own, in one nft run."""
    o = converge(desired(port("p28"), port("p6004")), base_observed({"p11", "p28", "p6004"}))
    assert slots(desired(port("p28"), port("p6004")), o) == {"p28": 2626, "p6004": 2627}, "no contest"
    both = desired(port("p11"), port("p28"), port("p6004"))
    ops = plan(both, o, CFG)
    assert slots(both, simulate(o, ops)) == {"p11": 2626, "p28": 2627, "p6004": 2628}
    assert slots(both, converge(both, base_observed({"p11", "p28", "p6004"}))) == \
        {"p11": 2626, "p28": 2627, "p6004": 2628}, "from scratch: the same slots"
    nft = [i for i, op in enumerate(ops) if isinstance(op, (O.ReplaceNftTable, O.DelNftTable))]
    assert nft == list(range(nft[0], nft[-1] + 1)), "consecutive: the driver sends them as one transaction"
    assert {op.name for op in ops if isinstance(op, O.ReplaceNftTable)} == {
        f(p) for p in ("p11", "p28", "p6004") for f in (table_name, guard_table_name)}
    # p11 goes again: the others return to their own slots
    assert slots(desired(port("p28"), port("p6004")),
                 converge(desired(port("p28"), port("p6004")), simulate(o, ops))) == {"p28": 2626, "p6004": 2627}


def test_a_port_without_a_free_slot_is_kept_off_the_bridge(monkeypatch):
    """Fail closed: a filtered port whose traffic the tables could not tell apart is
    never enslaved (and released if it was), and its status says why. Which port misses
    out depends on the set only (sorted last), as every slot does: here p2 turning port
    security on with 2 slots (4095 in real life) pushes p3 out."""
    monkeypatch.setattr(marks, "SLOTS", 2)
    plugged = {"p1", "p2", "p3", "p4"}
    before = desired(port("p1"), port("p2", secure=False), port("p3"), port("p4", secure=False))
    o = converge(before, base_observed(plugged))
    assert o.links["tapp3"].master == "brq-n-vx" and not wanted_sg(before, NETS, o).unmarked
    d = desired(port("p1"), port("p2"), port("p3"), port("p4", secure=False))
    assert wanted_sg(d, NETS, o).unmarked == {"p3"}, "sorted last, no slot left"
    ops = plan(d, o, CFG)
    assert O.SetMaster(name="tapp3", master="") in ops and O.DelNftTable(name=table_name("p3")) in ops
    o2 = converge(d, o)
    assert set(o2.nft) == {table_name("p1"), table_name("p2")} and o2.links["tapp3"].master == ""
    assert o2.links["tapp4"].master == "brq-n-vx", "an unfiltered port needs no slot"
    states = port_states(d, o2, CFG)
    assert states["p3"].status == "DOWN" and "no free packet mark" in states["p3"].detail
    assert states["p1"].status == states["p2"].status == "ACTIVE"
    assert sg_state(converge(d, base_observed(plugged))) == sg_state(o2), "from scratch: the same"


def test_unplugged_or_admin_down_port_has_no_table_and_deleted_port_loses_it():
    o = converge(desired(port("p1"), port("p2", admin=False)), base_observed({"p1", "p2"}))
    assert set(o.nft) == {table_name("p1")} and set(o.nft_bridge) == {guard_table_name("p1")}
    o2 = converge(desired(port("p2")), o)
    assert set(o2.nft) == {table_name("p2")} and set(o2.nft_bridge) == {guard_table_name("p2")}


def test_status_waits_for_the_table():
    d = desired(port("p1"), port("p2", secure=False))
    o = converge(d, base_observed({"p1", "p2"}))
    assert {p: s.status for p, s in port_states(d, o, CFG).items()} == {"p1": "ACTIVE", "p2": "ACTIVE"}
    stale = msgspec.structs.replace(o, nft={table_name("p1"): "stale"})
    assert port_states(d, stale, CFG)["p1"].detail == "security groups not applied"
    assert port_states(d, msgspec.structs.replace(o, nf_call_ip6tables=False), CFG)["p1"].status == "DOWN"
    assert port_states(d, stale, CFG)["p2"].status == "ACTIVE"
    unguarded = msgspec.structs.replace(o, nft_bridge={})
    assert port_states(d, unguarded, CFG)["p1"].detail == "anti-spoofing not applied"
    assert port_states(d, unguarded, CFG)["p2"].status == "ACTIVE", "port security off: no guard needed"


LISTING = """\
table inet nl-sg-p1 {
\tcomment "netledger-sg 0123abcd"
\tchain egress {
\t\ttype filter hook forward priority filter; policy accept;
\t}
}
table inet nl-sg-p2 {
\tchain egress {
\t}
}
table inet other {
\tcomment "netledger-sg ffff"
}
table inet nl-sg-p3 {
\tcomment "someone else"
}
table bridge nl-as-p1 {
\tcomment "netledger-sg 4567"
\tchain prerouting {
\t}
}
table bridge nl-sg-p1 {
\tcomment "netledger-sg 89ab"
}
table inet nl-as-p9 {
\tcomment "netledger-sg cdef"
}
table bridge filter {
}
"""


def test_parse_tables_reads_ours_only():
    assert parse_tables(LISTING) == {"nl-sg-p1": "0123abcd", "nl-sg-p2": "", "nl-sg-p3": ""}
    assert parse_tables(LISTING, "bridge") == {"nl-as-p1": "4567"}, "guards: bridge family, nl-as- prefix only"
    assert parse_tables("") == {} and parse_tables("", "bridge") == {}


def test_stamp_is_deterministic_and_changes_with_text():
    t = "# x\ntable inet nl-sg-p1 {\n  chain c {\n  }\n}\n"
    a, b = stamp(t, "nl-sg-p1"), stamp(t.replace("chain c", "chain d"), "nl-sg-p1")
    assert a == stamp(t, "nl-sg-p1") and a.digest != b.digest
    assert a.text.splitlines()[2] == f'  comment "netledger-sg {a.digest}"'


def test_replace_script_is_one_transaction_of_delete_and_add():
    ops = [O.ReplaceNftTable(name="nl-sg-p1", digest="d", text="table inet nl-sg-p1 {\n}\n"),
           O.DelNftTable(name="nl-sg-p2"), O.DelNftTable(name="nl-as-p2", family="bridge")]
    assert replace_script(ops) == ("table inet nl-sg-p1\ndelete table inet nl-sg-p1\ntable inet nl-sg-p1 {\n}\n"
                                   "table inet nl-sg-p2\ndelete table inet nl-sg-p2\n"
                                   "table bridge nl-as-p2\ndelete table bridge nl-as-p2\n")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft")
def test_nft_applies_the_script_and_the_listing_parses_back():
    """In a private namespace: apply twice (idempotent), read the digests back, delete."""
    d = desired(port("p1"), port("p2"))
    o = base_observed({"p1", "p2"})
    want, guards = wanted_tables(d, NETS, o), wanted_guards(d, NETS, o)
    ops = [op for op in plan(d, o, CFG) if isinstance(op, O.ReplaceNftTable)]
    ns = f"nlt{uuid.uuid4().hex[:6]}-lbsg"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        def nft(*args: str, stdin: str | None = None) -> str:
            r = subprocess.run(["nsenter", f"--net=/run/netns/{ns}", "nft", *args], input=stdin,
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            return r.stdout
        for _ in range(2):
            nft("-f", "-", stdin=replace_script(ops))
        nft("add", "table", "ip", "nl-sg-other-family")          # not a family we own tables in
        listing = nft(*_LIST_OURS)            # the driver's observe listing
        assert parse_tables(listing) == {n: t.digest for n, t in want.items()}
        assert parse_tables(listing, "bridge") == {n: t.digest for n, t in guards.items()}
        nft("-f", "-", stdin=replace_script([O.DelNftTable(name=table_name("p1")),
                                             O.DelNftTable(name=guard_table_name("p1"), family="bridge"),
                                             O.DelNftTable(name="nl-sg-absent")]))
        listing = nft(*_LIST_OURS)
        assert set(parse_tables(listing)) == {table_name("p2")}
        assert set(parse_tables(listing, "bridge")) == {guard_table_name("p2")}
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)


def test_icmp_on_an_ipv6_rule_means_icmpv6():
    """Neutron accepts protocol "icmp" (1) with ethertype IPv6 and means ICMPv6 (58)."""
    legacy = (SgRuleIntent(direction="ingress", ethertype="IPv6", protocol=1, port_range_min=128),)
    modern = (SgRuleIntent(direction="ingress", ethertype="IPv6", protocol=58, port_range_min=128),)
    o = base_observed({"p1"})
    for rules in (legacy, modern):
        text = wanted_tables(desired(port("p1"), rules=rules), NETS, o)[table_name("p1")].text
        assert "    meta nfproto ipv6 meta l4proto icmpv6 icmpv6 type 128 accept\n" in text
