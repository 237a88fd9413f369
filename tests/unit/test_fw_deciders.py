"""FWaaS deciders (pure): rule checks, insert positions, in-use and port conflicts."""

from __future__ import annotations

import pytest

from netledger.errors import BadRequest, Conflict, NotFound
from netledger.libs.events.fwaas import FirewallPolicyRuleInserted, FirewallRuleCreated
from netledger.libs.events.subjects import Subjects
from netledger.services.api.deciders import fwaas as d

S = Subjects("t")


@pytest.mark.parametrize("rule, error", [
    ({"protocol": "icmp", "destination_port": "8"}, "FirewallRuleInvalidICMPParameter"),
    ({"destination_port": "80"}, "FirewallRuleWithPortWithoutProtocolInvalid"),
    ({"ip_version": 6, "source_ip_address": "10.0.0.0/8"}, "FirewallIpAddressConflict"),
    ({"ip_version": 4, "destination_ip_address": "2001:db8::1"}, "FirewallIpAddressConflict"),
])
def test_invalid_rules(rule, error):
    with pytest.raises(BadRequest) as exc:
        d.check_rule({"ip_version": 4, **rule})
    assert exc.value.type == error


def test_rule_create_fact_uses_empty_strings_for_none():
    plan = d.decide_rule_create("p", {"protocol": None, "action": "allow", "source_port": None}, rule_id="r",
                                subjects=S)
    ev = plan.facts[0].event
    assert isinstance(ev, FirewallRuleCreated) and ev.protocol == "" and ev.action == "allow"
    assert plan.facts[0].expect_seq == 0


@pytest.mark.parametrize("before, after, pos", [("", "", 0), ("b", "", 1), ("", "b", 2), ("a", "c", 0),
                                                ("", "c", 3)])
def test_insert_positions(before, after, pos):
    plan = d.decide_insert_rule({"id": "P", "firewall_rules": ["a", "b", "c"]}, 5, rule_id="x", before=before,
                                after=after, subjects=S)
    ev = plan.facts[0].event
    assert isinstance(ev, FirewallPolicyRuleInserted) and ev.position == pos and plan.facts[0].expect_seq == 5


def test_insert_relative_to_a_foreign_rule_or_twice_fails():
    cur = {"id": "P", "firewall_rules": ["a"]}
    with pytest.raises(BadRequest) as exc:
        d.decide_insert_rule(cur, 1, rule_id="x", before="zz", after="", subjects=S)
    assert exc.value.type == "FirewallRuleNotAssociatedWithPolicy"
    with pytest.raises(BadRequest) as exc:
        d.decide_insert_rule(cur, 1, rule_id="a", before="", after="", subjects=S)
    assert exc.value.type == "FirewallRuleAlreadyAssociated"


def test_in_use():
    with pytest.raises(Conflict, match="is being used"):
        d.decide_rule_delete({"id": "r"}, 1, used_by=["P"], subjects=S)
    with pytest.raises(Conflict, match="is being used"):
        d.decide_policy_delete({"id": "P"}, 1, used_by=["G"], subjects=S)
    with pytest.raises(Conflict) as exc:
        d.decide_group_delete({"id": "G", "ports": ["x"], "status": "ACTIVE"}, 1, subjects=S)
    assert exc.value.type == "FirewallGroupInUse"


def test_ports_one_group_at_a_time_and_router_ports_only():
    found = {"qr": {"device_owner": "network:router_interface", "project_id": "p"},
             "vm": {"device_owner": "compute:nova", "project_id": "p"}}
    d.check_ports("G", "p", ["qr"], found=found, taken={"qr": "G"}, is_admin=False)      # its own port: fine
    with pytest.raises(Conflict) as exc:
        d.check_ports("G2", "p", ["qr"], found=found, taken={"qr": "G"}, is_admin=False)
    assert exc.value.type == "FirewallGroupPortInUse"
    with pytest.raises(Conflict) as exc:
        d.check_ports("G", "p", ["vm"], found=found, taken={}, is_admin=False)
    assert exc.value.type == "FirewallGroupPortInvalid"
    with pytest.raises(Conflict) as exc:
        d.check_ports("G", "other", ["qr"], found=found, taken={}, is_admin=False)
    assert exc.value.type == "FirewallGroupPortInvalidProject"
    with pytest.raises(NotFound):
        d.check_ports("G", "p", ["nope"], found=found, taken={}, is_admin=False)


def test_unchanged_update_publishes_nothing():
    cur = {"id": "G", "ports": ["qr"], "name": "g", "admin_state_up": True}
    assert d.decide_group_update(cur, 3, {"ports": ["qr"], "name": "g"}, subjects=S).facts == ()
