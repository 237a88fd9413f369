"""FWaaS v2 over real HTTP: rules, policies (insert/remove, audited), groups (ports,
status), and the errors Neutron answers with."""

from __future__ import annotations

import pytest

B = "/v2.0/fwaas"


def mk(api, coll: str, kind: str, **attrs) -> dict:
    status, body = api.post(f"{B}/{coll}", {kind: attrs})
    assert status == 201, (status, body)
    return body[kind]


def rule(api, **attrs) -> dict:
    return mk(api, "firewall_rules", "firewall_rule", **attrs)


def policy(api, **attrs) -> dict:
    return mk(api, "firewall_policies", "firewall_policy", **attrs)


def err(resp) -> tuple[int, str]:
    status, body = resp
    return status, (body or {}).get("NeutronError", {}).get("type", "")


@pytest.fixture
def router_port(api):
    net = api.create("network", name="fw-lan")
    sub = api.create("subnet", network_id=net["id"], cidr="10.77.0.0/24", ip_version=4)
    router = api.create("router", name="fw-r")
    _, info = api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    plain = api.create("port", network_id=net["id"])
    yield info["port_id"], plain["id"]
    api.delete(f"/v2.0/ports/{plain['id']}")
    api.put(f"/v2.0/routers/{router['id']}/remove_router_interface", {"subnet_id": sub["id"]})
    api.delete(f"/v2.0/routers/{router['id']}")
    api.delete(f"/v2.0/networks/{net['id']}")


def test_rule_shape_defaults_and_validation(api):
    r = rule(api, name="web", protocol="tcp", destination_port="8080", source_ip_address="203.0.113.1",
             action="allow")
    assert r["protocol"] == "tcp" and r["destination_port"] == "8080" and r["action"] == "allow"
    assert r["ip_version"] == 4 and r["enabled"] is True and r["shared"] is False
    assert r["source_port"] is None and r["destination_ip_address"] is None and r["firewall_policy_id"] == []
    any_rule = rule(api, protocol="any")
    assert any_rule["protocol"] is None and any_rule["action"] == "deny"
    ranged = rule(api, protocol="udp", source_port="1000:2000")
    assert ranged["source_port"] == "1000:2000"
    assert err(api.post(f"{B}/firewall_rules", {"firewall_rule": {"destination_port": "80"}})) == (
        400, "FirewallRuleWithPortWithoutProtocolInvalid")
    assert err(api.post(f"{B}/firewall_rules", {"firewall_rule": {"protocol": "icmp", "destination_port": "8"}})) == (
        400, "FirewallRuleInvalidICMPParameter")
    assert err(api.post(f"{B}/firewall_rules", {"firewall_rule": {"action": "drop"}})) == (
        400, "FirewallRuleInvalidAction")
    assert err(api.post(f"{B}/firewall_rules", {"firewall_rule": {"protocol": "tcp",
                                                                    "destination_port": "90:80"}})) == (
        400, "FirewallRuleInvalidPortValue")
    assert err(api.post(f"{B}/firewall_rules", {"firewall_rule": {"ip_version": 6,
                                                                    "source_ip_address": "10.0.0.1"}})) == (
        400, "FirewallIpAddressConflict")
    status, upd = api.put(f"{B}/firewall_rules/{r['id']}", {"firewall_rule": {"enabled": False}})
    assert status == 200 and upd["firewall_rule"]["enabled"] is False
    assert err(api.get(f"{B}/firewall_rules/00000000-0000-0000-0000-000000000000")) == (404, "FirewallRuleNotFound")
    for x in (r, any_rule, ranged):
        assert api.delete(f"{B}/firewall_rules/{x['id']}")[0] == 204


def test_policy_insert_remove_audited_and_in_use(api):
    a, b, c = (rule(api, name=n, protocol="tcp", destination_port=p, action="allow")
               for n, p in (("a", "1"), ("b", "2"), ("c", "3")))
    p = policy(api, name="p", firewall_rules=[a["id"]], audited=True)
    assert p["firewall_rules"] == [a["id"]] and p["audited"] is True
    pid = p["id"]
    status, out = api.put(f"{B}/firewall_policies/{pid}/insert_rule",
                          {"firewall_rule_id": b["id"], "insert_before": a["id"]})
    assert status == 200 and out["firewall_rules"] == [b["id"], a["id"]] and out["audited"] is False, out
    status, out = api.put(f"{B}/firewall_policies/{pid}/insert_rule",
                          {"firewall_rule_id": c["id"], "insert_after": b["id"]})
    assert out["firewall_rules"] == [b["id"], c["id"], a["id"]]
    assert err(api.put(f"{B}/firewall_policies/{pid}/insert_rule", {"firewall_rule_id": c["id"]})) == (
        400, "FirewallRuleAlreadyAssociated")
    assert err(api.put(f"{B}/firewall_policies/{pid}/insert_rule", {})) == (400, "FirewallRuleInfoMissing")
    assert api.get(f"{B}/firewall_rules/{a['id']}")[1]["firewall_rule"]["firewall_policy_id"] == [pid]
    assert err(api.delete(f"{B}/firewall_rules/{a['id']}")) == (409, "FirewallRuleInUse")

    # audited: set true, then a change to one of its rules resets it
    api.put(f"{B}/firewall_policies/{pid}", {"firewall_policy": {"audited": True}})
    assert api.get(f"{B}/firewall_policies/{pid}")[1]["firewall_policy"]["audited"] is True
    api.put(f"{B}/firewall_rules/{c['id']}", {"firewall_rule": {"destination_port": "33"}})
    assert api.get(f"{B}/firewall_policies/{pid}")[1]["firewall_policy"]["audited"] is False
    api.put(f"{B}/firewall_policies/{pid}", {"firewall_policy": {"audited": True}})
    api.put(f"{B}/firewall_policies/{pid}", {"firewall_policy": {"name": "renamed"}})
    assert api.get(f"{B}/firewall_policies/{pid}")[1]["firewall_policy"]["audited"] is False

    status, out = api.put(f"{B}/firewall_policies/{pid}/remove_rule", {"firewall_rule_id": c["id"]})
    assert status == 200 and out["firewall_rules"] == [b["id"], a["id"]]
    assert err(api.put(f"{B}/firewall_policies/{pid}/remove_rule", {"firewall_rule_id": c["id"]})) == (
        400, "FirewallRuleNotAssociatedWithPolicy")
    assert api.delete(f"{B}/firewall_rules/{c['id']}")[0] == 204
    assert api.delete(f"{B}/firewall_policies/{pid}")[0] == 204
    for x in (a, b):
        assert api.delete(f"{B}/firewall_rules/{x['id']}")[0] == 204


def test_group_ports_status_and_conflicts(api, router_port):
    itf, plain = router_port
    p = policy(api, name="in")
    status, body = api.post(f"{B}/firewall_groups", {"firewall_group": {
        "name": "g", "ingress_firewall_policy_id": p["id"], "ports": [itf]}})
    assert status == 201, body
    g = body["firewall_group"]
    assert g["ports"] == [itf] and g["ingress_firewall_policy_id"] == p["id"]
    assert g["egress_firewall_policy_id"] is None and g["admin_state_up"] is True
    # no L3 worker in this stack: the router never reports
    assert g["status"] == "PENDING_CREATE"
    assert err(api.delete(f"{B}/firewall_policies/{p['id']}")) == (409, "FirewallPolicyInUse")
    assert err(api.post(f"{B}/firewall_groups", {"firewall_group": {"ports": [itf]}})) == (
        409, "FirewallGroupPortInUse")
    assert err(api.post(f"{B}/firewall_groups", {"firewall_group": {"ports": [plain]}})) == (
        409, "FirewallGroupPortInvalid")
    assert err(api.post(f"{B}/firewall_groups", {"firewall_group": {
        "ingress_firewall_policy_id": "00000000-0000-0000-0000-000000000000"}})) == (404, "FirewallPolicyNotFound")
    status, body = api.put(f"{B}/firewall_groups/{g['id']}", {"firewall_group": {"ports": []}})
    assert status == 200 and body["firewall_group"]["status"] == "INACTIVE"
    status, body = api.put(f"{B}/firewall_groups/{g['id']}", {"firewall_group": {"admin_state_up": False}})
    assert body["firewall_group"]["status"] == "DOWN"
    listed = api.get(f"{B}/firewall_groups?name=g")[1]["firewall_groups"]
    assert [x["id"] for x in listed] == [g["id"]]
    assert api.delete(f"{B}/firewall_groups/{g['id']}")[0] == 204
    assert api.delete(f"{B}/firewall_policies/{p['id']}")[0] == 204
    assert err(api.get(f"{B}/firewall_groups/{g['id']}")) == (404, "FirewallGroupNotFound")


def test_projects_and_shared(api):
    alice, bob = api.as_project("fw-alice"), api.as_project("fw-bob")
    r = rule(alice, protocol="tcp", destination_port="22")
    assert err(bob.get(f"{B}/firewall_rules/{r['id']}")) == (404, "FirewallRuleNotFound")
    assert err(alice.post(f"{B}/firewall_rules", {"firewall_rule": {"shared": True}})) == (403, "PolicyNotAuthorized")
    shared = rule(api.as_project("fw-admin", admin=True), protocol="icmp", shared=True)
    assert bob.get(f"{B}/firewall_rules/{shared['id']}")[0] == 200
    ids = {x["id"] for x in bob.get(f"{B}/firewall_rules")[1]["firewall_rules"]}
    assert shared["id"] in ids and r["id"] not in ids
    assert alice.delete(f"{B}/firewall_rules/{r['id']}")[0] == 204
    assert api.delete(f"{B}/firewall_rules/{shared['id']}")[0] == 204
