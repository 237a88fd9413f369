"""FWaaS chains in the router's table: golden text, planner invariants, rule rendering."""

from __future__ import annotations

import msgspec
import pytest

from netledger.libs.events.fwaas import FwGroupIntent, FwRuleIntent
from netledger.libs.events.l3_intents import L3Gateway, L3Port, RouterIntent
from netledger.services.advanced.fw import render as fw
from netledger.services.l3 import ops as O
from netledger.services.l3 import render_nft
from netledger.services.l3.config import L3Config
from netledger.services.l3.model import Seen
from netledger.services.l3.plan import plan, want
from tests.fakehost.l3 import apply as simulate

CFG = L3Config(host="h1", netns_prefix="t-")
RID = "11111111-2222-3333-4444-555555555555"
GID = "99999999-0000-4000-8000-000000000009"
QR1 = L3Port(port_id="aaaaaaaa-0000-4000-8000-000000000001", network_id="n1", mac_address="fa:16:3e:00:00:01",
             cidrs=("10.0.1.1/24",))
GW = L3Gateway(port=L3Port(port_id="cccccccc-0000-4000-8000-000000000003", network_id="ext",
                           mac_address="fa:16:3e:00:00:03", cidrs=("203.0.113.5/24",), mtu=1500),
               gateway_ip="203.0.113.1")
WEB = FwRuleIntent(rule_id="r1000000-web", action="allow", protocol="tcp", source_ip_address="203.0.113.1/32",
                   destination_port="8080")
REJ = FwRuleIntent(rule_id="r2000000-rej", action="reject", protocol="tcp", destination_port="8000:8100")
ANY_REJ = FwRuleIntent(rule_id="r3000000-any", action="reject", destination_ip_address="10.0.1.0/24")
V6 = FwRuleIntent(rule_id="r4000000-v6", action="allow", ip_version=6, source_ip_address="2001:db8::/64")
GROUP = FwGroupIntent(group_id=GID, revision=7, ports=(GW.port.port_id,), ingress=(WEB, REJ, V6), egress=())
BASE = RouterIntent(router_id=RID, interfaces=(QR1,), gateway=GW)

GOLDEN = """\
table ip netledger_l3 {
\tchain prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t}
\tchain output {
\t\ttype nat hook output priority -100; policy accept;
\t}
\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\toifname "qg-cccccccc-00" ip saddr 10.0.1.0/24 snat to 203.0.113.5 comment "snat 10.0.1.0/24 #@"
\t}
\tchain fwg-ingress-99999999-0000-4000-8000-000000000009 {
\t\tct state invalid drop comment "fw-state invalid #@"
\t\tct state established,related accept comment "fw-state established #@"
\t\tip protocol tcp ip saddr 203.0.113.1 tcp dport 8080 accept comment "fw-rule r1000000 allow #@"
\t\tip protocol tcp tcp dport 8000-8100 reject with tcp reset comment "fw-rule r2000000 reject #@"
\t\tdrop comment "fw-default deny #@"
\t}
\tchain fwg-egress-99999999-0000-4000-8000-000000000009 {
\t\tct state invalid drop comment "fw-state invalid #@"
\t\tct state established,related accept comment "fw-state established #@"
\t\tdrop comment "fw-default deny #@"
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\toifname "qg-cccccccc-00" jump fwg-ingress-99999999-0000-4000-8000-000000000009 comment "fw-ingress 99999999 qg-cccccccc-00 #@"
\t\tiifname "qg-cccccccc-00" jump fwg-egress-99999999-0000-4000-8000-000000000009 comment "fw-egress 99999999 qg-cccccccc-00 #@"
\t}
}
"""


def _unhash(text: str) -> str:
    import re
    return re.sub(r"#[0-9a-f]{8}", "#@", text)


def test_golden_table_with_a_group_on_the_gateway():
    intent = msgspec.structs.replace(BASE, firewall_groups=(GROUP,))
    assert _unhash(render_nft.render(intent)) == GOLDEN


def test_no_group_renders_the_table_exactly_as_before():
    """Routers without firewall groups are untouched by FWaaS (no filter chain at all)."""
    assert "forward" not in render_nft.render(BASE)
    other = FwGroupIntent(group_id=GID, ports=("not-on-this-router",), ingress=(WEB,))
    assert render_nft.render(msgspec.structs.replace(BASE, firewall_groups=(other,))) == render_nft.render(BASE)


def test_reject_any_protocol_is_a_tcp_reset_and_an_icmp_refusal():
    assert fw.rule_texts(ANY_REJ) == ["ip daddr 10.0.1.0/24 meta l4proto tcp reject with tcp reset",
                                      "ip daddr 10.0.1.0/24 reject with icmp type port-unreachable"]
    assert fw.rule_texts(FwRuleIntent(rule_id="x", action="reject", protocol="udp")) == [
        "ip protocol udp reject with icmp type port-unreachable"]
    assert fw.rule_texts(FwRuleIntent(rule_id="x", action="deny", protocol="icmp")) == ["ip protocol icmp drop"]


def test_admin_down_group_drops_everything_on_its_ports():
    down = msgspec.structs.replace(GROUP, admin_state_up=False, ports=(QR1.port_id,))
    chains = fw.chains(msgspec.structs.replace(BASE, firewall_groups=(down,)))
    assert list(chains) == ["forward"]
    assert [t for _, t in chains["forward"]] == ['oifname "qr-aaaaaaaa-00" drop', 'iifname "qr-aaaaaaaa-00" drop']


def test_directions_are_neutrons_ingress_leaves_through_the_port_egress_enters():
    """neutron-fwaas iptables v2: ingress jumps on `-o <port>`, egress on `-i <port>`."""
    on_qr = msgspec.structs.replace(GROUP, ports=(QR1.port_id,))
    forward = fw.chains(msgspec.structs.replace(BASE, firewall_groups=(on_qr,)))["forward"]
    assert [t for _, t in forward] == [
        f'oifname "qr-aaaaaaaa-00" jump {fw.chain_name(GID, "ingress")}',
        f'iifname "qr-aaaaaaaa-00" jump {fw.chain_name(GID, "egress")}']


def test_no_policy_in_a_direction_denies_it_as_neutron_does():
    """Neutron's driver builds both chains for every group port; an absent policy has no
    allow rule, so only established traffic passes that way."""
    only_in = msgspec.structs.replace(GROUP, egress=None)
    chains = fw.chains(msgspec.structs.replace(BASE, firewall_groups=(only_in,)))
    assert [t.split()[0] for _, t in chains["forward"]] == ["oifname", "iifname"]
    assert [t for _, t in chains[fw.chain_name(GID, "egress")]] == [
        "ct state invalid drop", "ct state established,related accept", "drop"]


# --- planner invariants with firewall states ----------------------------------------

STATES = {
    "plain": BASE,
    "group": msgspec.structs.replace(BASE, firewall_groups=(GROUP,)),
    "reordered": msgspec.structs.replace(BASE, firewall_groups=(msgspec.structs.replace(GROUP, ingress=(REJ, WEB)),)),
    "on-qr": msgspec.structs.replace(BASE, firewall_groups=(msgspec.structs.replace(GROUP, ports=(QR1.port_id,)),)),
    "east-west-only": RouterIntent(router_id=RID, interfaces=(QR1,), firewall_groups=(
        msgspec.structs.replace(GROUP, ports=(QR1.port_id,)),)),
}
EMPTY = Seen(router_id=RID, netns=CFG.netns(RID))


def converge(intent, seen):
    return simulate(seen, plan(want(intent, CFG), seen))


@pytest.mark.parametrize("name", sorted(STATES))
def test_converges_and_reapply_is_noop(name):
    w = want(STATES[name], CFG)
    after = simulate(EMPTY, plan(w, EMPTY))
    assert plan(w, after) == []
    assert plan(w, converge(STATES[name], after)) == []


@pytest.mark.parametrize("start", sorted(STATES))
@pytest.mark.parametrize("end", sorted(STATES))
def test_incremental_equals_from_scratch(start, end):
    assert converge(STATES[end], converge(STATES[start], EMPTY)) == converge(STATES[end], EMPTY)


def test_a_rule_change_is_one_atomic_table_replace():
    seen = converge(STATES["group"], EMPTY)
    ops = plan(want(STATES["reordered"], CFG), seen)
    assert [type(o) for o in ops] == [O.ReplaceNft]
