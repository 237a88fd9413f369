"""The L3 planner's three invariants and golden text of the rendered nft table."""

from __future__ import annotations

import pytest

from netledger.libs.events.l3_intents import L3FloatingIp, L3Gateway, L3Port, RouterIntent
from netledger.libs.events.router import Route
from netledger.services.l3 import ops as O
from netledger.services.l3 import render_nft
from netledger.services.l3.config import L3Config
from netledger.services.l3.model import Seen
from netledger.services.l3.plan import plan, want
from tests.fakehost.l3 import apply as simulate

CFG = L3Config(host="h1", netns_prefix="t-")
RID = "11111111-2222-3333-4444-555555555555"
QR1 = L3Port(port_id="aaaaaaaa-0000-4000-8000-000000000001", network_id="n1", mac_address="fa:16:3e:00:00:01",
             cidrs=("10.0.1.1/24",))
QR2 = L3Port(port_id="bbbbbbbb-0000-4000-8000-000000000002", network_id="n2", mac_address="fa:16:3e:00:00:02",
             cidrs=("10.0.2.1/24",))
GW = L3Gateway(port=L3Port(port_id="cccccccc-0000-4000-8000-000000000003", network_id="ext",
                           mac_address="fa:16:3e:00:00:03", cidrs=("203.0.113.5/24",), mtu=1500),
               gateway_ip="203.0.113.1")
FIP = L3FloatingIp(floatingip_id="f1", floating_ip_address="203.0.113.20", fixed_ip_address="10.0.1.5")

STATES = {
    "bare": RouterIntent(router_id=RID),
    "one-if": RouterIntent(router_id=RID, interfaces=(QR1,)),
    "gw": RouterIntent(router_id=RID, interfaces=(QR1, QR2), gateway=GW),
    "fip": RouterIntent(router_id=RID, interfaces=(QR1, QR2), gateway=GW, floating_ips=(FIP,),
                        routes=(Route(destination="10.9.0.0/16", nexthop="10.0.2.7"),)),
    "no-snat": RouterIntent(router_id=RID, interfaces=(QR1,), gateway=L3Gateway(port=GW.port, gateway_ip="203.0.113.1",
                                                                                enable_snat=False)),
}
EMPTY = Seen(router_id=RID, netns=CFG.netns(RID))


def converge(intent, seen):
    w = want(intent, CFG) if intent else None
    return simulate(seen, plan(w, seen))


@pytest.mark.parametrize("name", sorted(STATES))
def test_converges_and_reapply_is_noop(name):
    w = want(STATES[name], CFG)
    after = simulate(EMPTY, plan(w, EMPTY))
    assert plan(w, after) == []
    assert plan(w, converge(STATES[name], after)) == []


@pytest.mark.parametrize("start", sorted(STATES))
@pytest.mark.parametrize("end", sorted(STATES))
def test_incremental_equals_from_scratch(start, end):
    incremental = converge(STATES[end], converge(STATES[start], EMPTY))
    scratch = converge(STATES[end], EMPTY)
    assert incremental == scratch


def test_teardown_removes_ports_then_namespace():
    seen = converge(STATES["fip"], EMPTY)
    ops = plan(None, seen)
    assert isinstance(ops[-1], O.DelNetns) and all(isinstance(o, O.DelOvsPort) for o in ops[:-1])
    assert plan(None, simulate(seen, ops)) == []


def test_removed_floating_ip_clears_conntrack_and_address():
    seen = converge(STATES["fip"], EMPTY)
    ops = plan(want(STATES["gw"], CFG), seen)
    assert O.ClearConntrack(netns=CFG.netns(RID), address="203.0.113.20") in ops
    assert any(isinstance(o, O.DelAddr) and o.cidr == "203.0.113.20/32" for o in ops)


def test_tampering_is_planned_back():
    seen = converge(STATES["fip"], EMPTY)
    broken = seen.__class__(**{**{f: getattr(seen, f) for f in seen.__struct_fields__},
                               "routes": frozenset(), "nft_signature": seen.nft_signature[:-1]})
    ops = plan(want(STATES["fip"], CFG), broken)
    assert [type(o).__name__ for o in ops] == ["ReplaceRoute", "ReplaceRoute", "ReplaceNft"]


GOLDEN = """table ip netledger_l3 {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 203.0.113.20 dnat to 10.0.1.5 comment "fip 203.0.113.20 10.0.1.5 #HASH"
	}
	chain output {
		type nat hook output priority -100; policy accept;
		ip daddr 203.0.113.20 dnat to 10.0.1.5 comment "fip-local 203.0.113.20 #HASH"
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ct status dnat iifname != "qg-cccccccc-00" oifname != "qg-cccccccc-00" masquerade comment "hairpin #HASH"
		oifname "qg-cccccccc-00" ip saddr 10.0.1.5 snat to 203.0.113.20 comment "fip-snat 203.0.113.20 #HASH"
		oifname "qg-cccccccc-00" ip saddr 10.0.1.0/24 snat to 203.0.113.5 comment "snat 10.0.1.0/24 #HASH"
		oifname "qg-cccccccc-00" ip saddr 10.0.2.0/24 snat to 203.0.113.5 comment "snat 10.0.2.0/24 #HASH"
	}
}
"""


def _unhash(text: str) -> str:
    import re

    return re.sub(r"#[0-9a-f]{8}", "#HASH", text)


def test_golden_nft_with_floating_ip():
    assert _unhash(render_nft.render(STATES["fip"])) == GOLDEN


def test_golden_nft_without_snat_and_without_gateway():
    text = render_nft.render(STATES["no-snat"])
    assert "snat" not in text and "masquerade" not in text
    assert render_nft.render(STATES["one-if"]).count("comment") == 0


def test_signature_matches_what_nft_json_gives_back():
    intent = STATES["fip"]
    doc = {"nftables": [{"metainfo": {}}, {"table": {"name": "netledger_l3"}}]}
    chain = ""
    for line in render_nft.render(intent).splitlines():
        line = line.strip()
        if line.startswith("chain "):
            chain = line.split()[1]
            doc["nftables"].append({"chain": {"name": chain, "hook": chain}})
        elif 'comment "' in line:
            doc["nftables"].append({"rule": {"chain": chain, "comment": line.split('comment "')[1][:-1], "expr": []}})
    sig, fips = render_nft.parse_observed(doc)
    assert sig == render_nft.signature(intent) and fips == {"203.0.113.20"}
