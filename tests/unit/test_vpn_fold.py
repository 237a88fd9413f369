"""VPNaaS decider -> fold -> compile, pure: whole-value facts, replay-identical rows,
in-use rules, unsupported algorithms, and the intent a router gets."""

from __future__ import annotations

import msgspec
import pytest

from netledger.errors import BadRequest, Conflict
from netledger.libs import secrets
from netledger.libs.events import vpnaas as V
from netledger.libs.events.envelope import wrap
from netledger.libs.events.subjects import Subjects
from netledger.services.api.deciders import vpnaas as decide
from netledger.services.topology.compile_vpn import VpnInputs, build_intent, compile_router
from netledger.services.topology.evolve import Put
from netledger.services.topology.evolve.vpnaas import evolve_vpn

SUB = Subjects("nl")
KEY = bytes(range(32))
ROUTER = {"id": "r1", "admin_state_up": True,
          "external_gateway_info": {"external_fixed_ips": [{"subnet_id": "e", "ip_address": "203.0.113.11"}]}}


def values():
    return [
        ("ikepolicy", decide.build("ikepolicy", {"id": "ike", "project_id": "p", "ike_version": "v2"})),
        ("ipsecpolicy", decide.build("ipsecpolicy", {"id": "esp", "project_id": "p"})),
        ("vpnservice", decide.build("vpnservice", {"id": "svc", "project_id": "p", "router_id": "r1"})),
        ("endpoint_group", decide.build("endpoint_group", {"id": "lg", "project_id": "p", "type": "subnet",
                                                           "endpoints": ["s1"]})),
        ("endpoint_group", decide.build("endpoint_group", {"id": "pg", "project_id": "p", "type": "cidr",
                                                           "endpoints": ["10.62.0.0/24"]})),
        ("ipsec_site_connection", decide.build("ipsec_site_connection", {
            "id": "c1", "project_id": "p", "vpnservice_id": "svc", "ikepolicy_id": "ike", "ipsecpolicy_id": "esp",
            "peer_address": "203.0.113.12", "peer_id": "203.0.113.12", "psk": secrets.seal(KEY, "c1", "k", nonce=bytes(12)), "router_id": "r1",
            "local_ep_group_id": "lg", "peer_ep_group_id": "pg", "dpd": {"interval": 10}})),
    ]


def fold_all(events) -> dict:
    rows: dict = {}
    for seq, (kind, ev) in enumerate(events, 1):
        env = wrap(ev, kind=kind, aggregate_id="x", time="2026-01-01T00:00:00Z")
        env = msgspec.json.decode(msgspec.json.encode(env), type=type(env))     # over the wire and back
        for w in evolve_vpn(env, seq, lambda t, i: None):
            if isinstance(w, Put):
                rows[(w.table, w.row["id"])] = w.row
            else:
                rows.pop((w.table, w.key["id"]), None)
    return rows


def test_facts_fold_identically_on_replay():
    events = []
    for kind, v in values():
        events += [(kind, p.event) for p in decide.decide_create(kind, v, SUB).facts]
    assert fold_all(events) == fold_all(events)
    body = msgspec.json.decode(fold_all(events)[("ipsec_site_connections", "c1")]["body"])
    assert body["dpd"] == {"action": "hold", "interval": 10, "timeout": 120}
    sealed = msgspec.convert(body["psk"], secrets.Sealed)
    assert sealed.key_id == "c1" and "k" not in body["psk"].values() and secrets.open_sealed(sealed, KEY) == "k"
    assert body["route_mode"] == "static" and "router_id" not in body


def test_update_is_whole_value_and_delete_in_use_is_409():
    old = values()[0][1]
    new = msgspec.structs.replace(old, pfs="group14")
    plan = decide.decide_update("ikepolicy", old, new, 3, SUB)
    assert plan.facts[0].event.value.pfs == "group14" and plan.facts[0].expect_seq == 3
    assert decide.decide_update("ikepolicy", old, old, 3, SUB).facts == ()
    with pytest.raises(Conflict):
        decide.decide_update("ikepolicy", old, new, 3, SUB, users=1)
    with pytest.raises(Conflict) as exc:
        decide.decide_delete("ipsecpolicy", "esp", 2, SUB, users=2)
    assert exc.value.type == "IPsecPolicyInUse"


@pytest.mark.parametrize("attrs", [{"encryption_algorithm": "aes-128-ctr"}, {"auth_algorithm": "aes-cmac"},
                                   {"pfs": "group24"}])
def test_unsupported_algorithms(attrs):
    with pytest.raises(BadRequest):
        decide.check_supported("ikepolicy", decide.build("ikepolicy", {"id": "i", "project_id": "p", **attrs}))


def inputs(**kw) -> VpnInputs:
    rows = fold_all([(k, decide.EVENTS[k][1](value=v)) for k, v in values()])
    bodies = {(t, i): msgspec.json.decode(r["body"]) for (t, i), r in rows.items()}
    base = dict(router=ROUTER, host="h1", services=(bodies[("vpnservices", "svc")],),
                connections=(bodies[("ipsec_site_connections", "c1")],),
                ikepolicies={"ike": bodies[("ikepolicies", "ike")]}, ipsecpolicies={"esp": bodies[("ipsecpolicies", "esp")]},
                groups={"lg": bodies[("endpoint_groups", "lg")], "pg": bodies[("endpoint_groups", "pg")]},
                subnet_cidrs={"s1": "10.61.0.0/24"})
    return VpnInputs(**{**base, **kw})


def test_compile_router_intent():
    intent = build_intent(inputs())
    (c,) = intent.connections
    assert (c.local_address, c.local_id, c.local_cidrs, c.peer_cidrs) == (
        "203.0.113.11", "203.0.113.11", ("10.61.0.0/24",), ("10.62.0.0/24",))
    assert c.ike.ike_version == "v2" and c.dpd.interval == 10
    assert c.psk == "" and c.psk_sealed.key_id == "c1", "the intent bucket holds ciphertext, never the PSK"
    assert secrets.open_sealed(c.psk_sealed, KEY) == "k"
    assert list(compile_router(inputs())) == ["h1.vpn.r1"]
    assert compile_router(inputs()) == compile_router(inputs()), "byte-equal: publishing is idempotent"


def test_compile_nothing_without_host_gateway_or_service():
    assert compile_router(inputs(host="")) == {}
    assert compile_router(inputs(router={**ROUTER, "external_gateway_info": None})) == {}
    assert compile_router(inputs(services=())) == {}
    down = inputs(connections=({**inputs().connections[0], "admin_state_up": False},))
    assert build_intent(down).connections == ()
