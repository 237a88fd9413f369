"""The port decider (pure): addresses, MACs, the claims it needs, reuse after a lost race."""

from __future__ import annotations

import random

import pytest

from netledger.errors import Conflict
from netledger.libs.events.claims import IpClaimed, IpReleased, MacClaimed, MacReleased
from netledger.libs.events.subjects import Subjects
from netledger.services.api import ipam
from netledger.services.api.context import RequestContext
from netledger.services.api.deciders.claims import Ledger, release_of
from netledger.services.api.deciders.port import decide_create, decide_delete, decide_update
from netledger.services.api.deciders.port_addresses import ClaimSnapshot, NeedClaims

SUBJECTS = Subjects("t")
CTX = RequestContext(request_id="r1", project_id="p1")
NET = {"id": "net-1", "project_id": "p1", "port_security_enabled": True}


def subnet(sid, cidr, **kw):
    body = {"id": sid, "network_id": "net-1", "cidr": cidr, "ip_version": 6 if ":" in cidr else 4}
    net = ipam.normalize_subnet({"cidr": cidr, "ip_version": body["ip_version"], **kw}, network_subnets=[])
    return {**body, **net}


class Claims:
    """A claims index: held values by (scope, value) -> (owner, seq). ``decide`` feeds
    a pure decider snapshots of it until the snapshot covers what it asks for (what
    claims_view.ReaderClaims does against SQLite)."""

    def __init__(self, held=None):
        self.held = dict(held or {})

    def _claim(self, scope, value):
        owner, seq = self.held.get((scope, value), ("", 0))
        return owner, seq, bool(owner)

    def decide(self, fn, rng=None):
        rng, snap = rng or random.Random(1), ClaimSnapshot()
        for _ in range(64):
            try:
                return fn(snap)
            except NeedClaims as need:
                snap = self._fill(snap, need, rng)
        raise AssertionError("decider kept asking for claims")

    def _fill(self, snap, need, rng):
        ips = {f"{s}/{ip}": self._claim(s, ip) for s, ip in need.ips}
        macs = {f"{n}/{m}": self._claim(n, m) for n, m in need.macs}
        free, fresh, exhausted = {}, {}, frozenset()
        if need.free is not None:
            sub, exclude = need.free
            used = {ip for (sid, ip) in self.held if sid == sub["id"]}
            try:
                (ip,) = ipam.pick_free_ips(sub, used | set(exclude) | set(snap.free.get(sub["id"], ())), 1, rng)
                free[sub["id"]], ips[f"{sub['id']}/{ip}"] = (ip,), self._claim(sub["id"], ip)
            except Conflict:
                exhausted = frozenset({sub["id"]})
        if need.fresh_macs is not None:
            net, base = need.fresh_macs
            mac = ipam.generate_mac(base, rng)
            fresh[net], macs[f"{net}/{mac}"] = (mac,), self._claim(net, mac)
        return snap.merged(ips=ips, macs=macs, free=free, fresh_macs=fresh, exhausted=exhausted)


def create(req, claims, subnets, won=None, port_id="port-1"):
    return claims.decide(lambda snap: decide_create(
        CTX, {"network_id": "net-1", **req}, port_id=port_id, network=NET, tree_seq=7, subnets=subnets,
        claims=snap, live_agents=[], subjects=SUBJECTS, mac_base=ipam.DEFAULT_BASE_MAC, won=won))


def test_create_claims_mac_and_one_address_per_family():
    v4, v6 = subnet("s4", "10.0.0.0/24"), subnet("s6", "2001:db8::/64")
    plan = create({}, Claims(), [v4, v6])
    kinds = sorted(type(p.event).__name__ for p in plan.claims)
    assert kinds == ["IpClaimed", "IpClaimed", "MacClaimed"]
    assert all(p.expect_seq == 0 for p in plan.claims)
    (fact,) = plan.facts
    assert fact.expect_seq == 7 and fact.expect_subject == SUBJECTS.network_tree("net-1")
    assert [f.subnet_id for f in fact.event.fixed_ips] == ["s4", "s6"]
    assert plan.releases == ()


def test_default_address_falls_through_full_subnets():
    full = subnet("a", "10.0.0.0/30")  # one address: .2
    spare = subnet("b", "10.0.1.0/24")
    plan = create({}, Claims({("a", "10.0.0.2"): ("other", 3)}), [full, spare])
    assert [f.subnet_id for f in plan.facts[0].event.fixed_ips] == ["b"]
    with pytest.raises(Conflict) as info:
        create({}, Claims({("a", "10.0.0.2"): ("other", 3)}), [full])
    assert info.value.type == "IpAddressGenerationFailure"


def test_slaac_address_comes_from_the_mac():
    slaac = subnet("s6", "2001:db8::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    plan = create({"mac_address": "fa:16:3e:00:00:01"}, Claims(), [slaac])
    assert plan.facts[0].event.fixed_ips[0].ip_address == "2001:db8::f816:3eff:fe00:1"


def test_requested_address_held_by_another_port_is_409():
    v4 = subnet("s4", "10.0.0.0/24")
    with pytest.raises(Conflict) as info:
        create({"fixed_ips": [{"ip_address": "10.0.0.9"}]}, Claims({("s4", "10.0.0.9"): ("other", 5)}), [v4])
    assert info.value.type == "IpAddressAlreadyAllocated"
    plan = create({"fixed_ips": [{"ip_address": "10.0.0.9"}]}, Claims({("s4", "10.0.0.9"): ("", 5)}), [v4])
    assert [p.expect_seq for p in plan.claims if isinstance(p.event, IpClaimed)] == [5]


def test_retry_reuses_what_it_won_and_releases_the_rest():
    v4 = subnet("s4", "10.0.0.0/24")
    first = create({}, Claims(), [v4])
    ledger = Ledger()
    for n, pub in enumerate(first.claims, start=10):
        ledger.record(pub, n)
    # The claims index already shows them as ours: nothing is claimed again.
    ours = {(e.subnet_id if isinstance(e, IpClaimed) else e.network_id,
             e.ip_address if isinstance(e, IpClaimed) else e.mac_address): ("port-1", 10)
            for e in (p.event for p in first.claims)}
    again = create({}, Claims(ours), [v4], won=ledger.won)
    assert again.claims == () and again.releases == ()
    assert again.facts[0].event.fixed_ips == first.facts[0].event.fixed_ips
    assert again.facts[0].event.mac_address == first.facts[0].event.mac_address
    # Asked for a specific MAC and address instead: the won ones are released.
    other = create({"mac_address": "fa:16:3e:aa:bb:cc", "fixed_ips": [{"ip_address": "10.0.0.200"}]},
                   Claims(ours), [v4], won=ledger.won)
    released = sorted(type(p.event).__name__ for p in other.releases)
    assert released == ["IpReleased", "MacReleased"]
    assert {p.expect_seq for p in other.releases} <= {10, 11}


def test_ledger_releases_everything_it_won():
    ledger = Ledger()
    pub = create({}, Claims(), [subnet("s4", "10.0.0.0/24")]).claims[0]
    ledger.record(pub, 42)
    (rel,) = ledger.releases()
    assert rel.subject == pub.subject and rel.expect_seq == 42
    assert isinstance(rel.event, (IpReleased, MacReleased))
    assert release_of(ledger.won[pub.subject]).event == rel.event


def test_update_moves_address_and_releases_old():
    v4 = subnet("s4", "10.0.0.0/24")
    current = {"id": "port-1", "network_id": "net-1", "mac_address": "fa:16:3e:00:00:01", "device_owner": "",
               "fixed_ips": [{"subnet_id": "s4", "ip_address": "10.0.0.5"}], "binding:vif_type": "unbound",
               "binding:host_id": "", "name": ""}
    held = Claims({("s4", "10.0.0.5"): ("port-1", 3), ("net-1", "fa:16:3e:00:00:01"): ("port-1", 4)})
    plan = held.decide(lambda snap: decide_update(CTX, current, 9, {"fixed_ips": [{"ip_address": "10.0.0.6"}]},
                                                  network=NET, subnets=[v4], claims=snap, live_agents=[],
                                                  subjects=SUBJECTS))
    assert [p.event.ip_address for p in plan.claims] == ["10.0.0.6"]
    assert [(p.event.ip_address, p.expect_seq) for p in plan.releases] == [("10.0.0.5", 3)]
    assert plan.facts[0].expect_seq == 9
    noop = held.decide(lambda snap: decide_update(CTX, current, 9, {"name": ""}, network=NET, subnets=[v4],
                                                  claims=snap, live_agents=[], subjects=SUBJECTS))
    assert noop.facts == () and noop.claims == ()


def test_delete_releases_addresses_and_mac_after_the_fact():
    current = {"id": "port-1", "network_id": "net-1", "mac_address": "fa:16:3e:00:00:01",
               "fixed_ips": [{"subnet_id": "s4", "ip_address": "10.0.0.5"}]}
    held = Claims({("s4", "10.0.0.5"): ("port-1", 3), ("net-1", "fa:16:3e:00:00:01"): ("port-1", 4)})
    plan = held.decide(lambda snap: decide_delete(CTX, current, 12, claims=snap, subjects=SUBJECTS))
    assert plan.facts[0].expect_seq == 12
    assert sorted(p.expect_seq for p in plan.releases) == [3, 4]
    assert isinstance(plan.releases[-1].event, MacReleased) and not isinstance(plan.releases[0].event, MacClaimed)
