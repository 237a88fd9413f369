"""Quota slot choice and RBAC deciders (pure, table-driven)."""

from __future__ import annotations

import random

import pytest

from netledger.errors import BadRequest, Conflict, InvalidInput
from netledger.libs.events.network import NetworkUpdated
from netledger.libs.events.rbac import RbacPolicyCreated, RbacPolicyDeleted
from netledger.libs.events.subjects import Subjects
from netledger.services.api.context import RequestContext
from netledger.services.api.deciders import quota, rbac

S = Subjects("t")


def _choose(limit, slots, owners=("new",), alive=frozenset(), grace=60.0, seed=1, unslotted=0):
    return quota.choose_slots(prefix="t", project="p1", resource="port", owners=list(owners), limit=limit,
                              slots=slots, alive=set(alive), grace=grace, rng=random.Random(seed),
                              unslotted=unslotted)


def held(owner, seq=1, age=0.0):
    return quota.Slot(owner=owner, held=True, seq=seq, age=age)


def test_slots_are_chosen_below_the_limit_with_their_sequence():
    pubs = _choose(3, {0: held("a"), 1: quota.Slot(owner="", held=False, seq=7, age=0)}, alive={"a"})
    assert len(pubs) == 1 and pubs[0].event.slot in (1, 2)
    assert pubs[0].expect_seq == (7 if pubs[0].event.slot == 1 else 0)
    assert pubs[0].subject == f"t.claim.quota.p1.port.{pubs[0].event.slot}"


def test_full_is_over_quota_with_neutrons_message():
    with pytest.raises(Conflict) as info:
        _choose(2, {0: held("a"), 1: held("b")}, alive={"a", "b"})
    assert info.value.type == "OverQuota"
    assert info.value.message == "Quota exceeded for resources: ['port']."


def test_slots_above_a_lowered_limit_still_count():
    # Held at 237 (chosen under the default limit), then the limit went down to 2.
    slots = {0: held("a"), 237: held("b")}
    with pytest.raises(Conflict):
        _choose(2, slots, alive={"a", "b"})
    assert [p.event.slot for p in _choose(3, slots, alive={"a", "b"})] == [1]


def test_dead_owners_free_their_slot_only_after_the_grace_time():
    with pytest.raises(Conflict):
        _choose(1, {0: held("ghost", seq=5, age=10)})
    pubs = _choose(1, {0: held("ghost", seq=5, age=120)})
    assert pubs[0].event.slot == 0 and pubs[0].expect_seq == 5    # taken over with a sequence check


def test_an_owner_holding_a_slot_claims_nothing_and_bulks_get_distinct_slots():
    assert _choose(1, {0: held("new")}) == []
    pubs = _choose(10, {}, owners=[f"o{i}" for i in range(10)])
    assert sorted(p.event.slot for p in pubs) == list(range(10))
    with pytest.raises(Conflict):
        _choose(10, {}, owners=[f"o{i}" for i in range(11)])


def test_resources_without_slots_use_up_room():
    # Two ports made while the quota was unlimited, then the limit set to 3.
    assert [p.event.slot for p in _choose(3, {}, unslotted=2)] == [0]
    with pytest.raises(Conflict):
        _choose(3, {0: held("a")}, alive={"a"}, unslotted=2)


def test_a_won_claim_is_released_with_its_own_sequence():
    claim = _choose(3, {})[0]
    rel = quota.release_of(claim, 77)
    assert (rel.subject, rel.expect_seq, rel.event.slot) == (claim.subject, 77, claim.event.slot)


def test_unlimited_never_refuses():
    slots = {k: held(f"o{k}") for k in range(1000)}
    assert len(_choose(-1, slots, owners=["x", "y"], alive={f"o{k}" for k in range(1000)})) == 2


def test_releases_expect_the_slots_own_sequence():
    pubs = quota.release_slots(prefix="t", project="p1", resource="port", owners={"a"},
                               slots={0: held("a", seq=9), 1: held("b", seq=10)})
    assert [(p.event.slot, p.expect_seq) for p in pubs] == [(0, 9)]


@pytest.mark.parametrize("body", [None, {}, {"quota": {}}, {"quota": {"nets": 1}}, {"quota": {"port": -2}},
                                  {"quota": {"port": True}}, {"quota": {"port": "many"}}])
def test_limit_validation(body):
    with pytest.raises(BadRequest):
        quota.validate_limits(body, quota.RESOURCES)


# --- RBAC
OWNER = RequestContext(request_id="r", project_id="owner", roles=("member", "reader"))
ADMIN = RequestContext(request_id="r", project_id="ops", roles=("admin", "member", "reader"), is_admin=True)
NET = {"id": "n1", "project_id": "owner", "shared": False}


def _policy(pid, target, action="access_as_shared"):
    return {"id": pid, "project_id": "owner", "object_type": "network", "object_id": "n1", "action": action,
            "target_tenant": target}


def test_create_expects_the_network_tree_and_refuses_duplicates():
    req = {"object_type": "network", "object_id": "n1", "action": "access_as_shared", "target_tenant": "bob"}
    plan = rbac.decide_create(OWNER, req, policy_id="p9", network=NET, network_seq=3, tree_seq=8, rows=[],
                              subjects=S)
    fact = plan.facts[0]
    assert isinstance(fact.event, RbacPolicyCreated)
    assert (fact.subject, fact.expect_seq, fact.expect_subject) == ("t.evt.net.n1.rbac.p9", 8, "t.evt.net.n1.>")
    with pytest.raises(Conflict):
        rbac.decide_create(OWNER, req, policy_id="p10", network=NET, network_seq=3, tree_seq=8,
                           rows=[_policy("p9", "bob")], subjects=S)
    with pytest.raises(InvalidInput):      # Neutron: "Only admins can manipulate policies..." (400)
        rbac.decide_create(RequestContext(request_id="r", project_id="bob"), req, policy_id="p1",
                           network={**NET, "shared": True}, network_seq=3, tree_seq=8, rows=[], subjects=S)


def test_wildcard_share_is_the_networks_shared_flag():
    req = {"object_type": "network", "object_id": "n1", "action": "access_as_shared", "target_tenant": "*"}
    plan = rbac.decide_create(ADMIN, req, policy_id="x", network=NET, network_seq=3, tree_seq=8, rows=[],
                              subjects=S)
    assert plan.facts[0].event == NetworkUpdated(network_id="n1", shared=True)
    assert plan.resource_id == rbac.wildcard_id("n1")
    shared = {**NET, "shared": True}
    assert [p["target_tenant"] for p in rbac.policies_of(shared, [])] == ["*"]


@pytest.mark.parametrize("policies, ports, refused", [
    ([_policy("p1", "bob")], {"bob"}, True),                      # bob would lose access
    ([_policy("p1", "bob"), _policy("p2", "*")], {"bob"}, False),  # still served by '*'
    ([_policy("p1", "bob")], {"owner"}, False),                   # only the owner's ports
    ([_policy("p1", "bob", "access_as_external")], {"bob"}, False),
])
def test_revocation_refused_while_others_have_ports(policies, ports, refused):
    def run():
        return rbac.decide_delete(OWNER, policies[0], network=NET, rows=policies, port_projects=ports,
                                  mac_head=41, subjects=S)
    if refused:
        with pytest.raises(Conflict) as info:
            run()
        assert info.value.type == "RbacPolicyInUse"
        return
    fact = run().facts[0]
    assert isinstance(fact.event, RbacPolicyDeleted)
    # Guarded by the network's MAC claims: a port created meanwhile makes it decide again.
    assert (fact.expect_seq, fact.expect_subject) == (41, "t.claim.mac.n1.>")


def test_unsharing_a_network_in_use_is_invalid_shared_setting():
    shared = {**NET, "shared": True}
    with pytest.raises(Conflict) as info:
        rbac.check_unshare(shared, {"shared": False}, rows=[], port_projects={"bob"})
    assert info.value.type == "InvalidSharedSetting"
    rbac.check_unshare(shared, {"shared": False}, rows=[_policy("p1", "bob")], port_projects={"bob"})
    rbac.check_unshare(shared, {"name": "x"}, rows=[], port_projects={"bob"})
