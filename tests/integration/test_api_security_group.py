"""Security groups, rules and port security through the real API (Neutron shapes and errors)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest


def _project() -> str:
    return uuid.uuid4().hex


def sg_create(api, **attrs) -> dict:
    status, body = api.post("/v2.0/security-groups", {"security_group": attrs})
    assert status == 201, (status, body)
    return body["security_group"]


def rule_create(api, **attrs):
    return api.post("/v2.0/security-group-rules", {"security_group_rule": attrs})


@pytest.fixture
def tenant(api):
    return api.as_project(_project())


def test_default_group_created_on_first_list_with_neutron_rules(tenant):
    status, body = tenant.get("/v2.0/security-groups")
    assert status == 200
    (default,) = body["security_groups"]
    assert default["name"] == "default" and default["stateful"] is True
    rules = {(r["direction"], r["ethertype"], r["remote_group_id"]) for r in default["security_group_rules"]}
    assert rules == {("egress", "IPv4", None), ("egress", "IPv6", None),
                     ("ingress", "IPv4", default["id"]), ("ingress", "IPv6", default["id"])}
    # a second list does not create a second one
    assert len(tenant.get("/v2.0/security-groups")[1]["security_groups"]) == 1


def test_default_group_is_created_once_under_concurrency(api):
    project = _project()
    clients = [api.as_project(project) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda c: c.get("/v2.0/security-groups"), clients))
    assert all(s == 200 for s, _ in results)
    groups = api.as_project(project).get("/v2.0/security-groups")[1]["security_groups"]
    assert [g["name"] for g in groups] == ["default"]


def test_default_group_cannot_be_deleted(tenant):
    default = tenant.get("/v2.0/security-groups")[1]["security_groups"][0]
    status, body = tenant.delete(f"/v2.0/security-groups/{default['id']}")
    assert status == 409 and body["NeutronError"]["type"] == "SecurityGroupCannotRemoveDefault"


def test_group_crud_and_rule_shapes(tenant):
    sg = sg_create(tenant, name="web", description="d")
    assert {r["direction"] for r in sg["security_group_rules"]} == {"egress"}
    status, body = rule_create(tenant, security_group_id=sg["id"], direction="ingress", protocol="tcp",
                               port_range_min=8080, port_range_max=8080, remote_ip_prefix="10.0.0.7/24")
    assert status == 201, body
    rule = body["security_group_rule"]
    assert rule["protocol"] == "tcp" and rule["remote_ip_prefix"] == "10.0.0.0/24" and rule["ethertype"] == "IPv4"
    got = tenant.get(f"/v2.0/security-groups/{sg['id']}")[1]["security_group"]
    assert rule["id"] in {r["id"] for r in got["security_group_rules"]}
    assert got["revision_number"] >= 1
    status, body = tenant.put(f"/v2.0/security-groups/{sg['id']}", {"security_group": {"name": "web2"}})
    assert status == 200 and body["security_group"]["name"] == "web2"
    listed = tenant.get(f"/v2.0/security-group-rules?security_group_id={sg['id']}")[1]["security_group_rules"]
    assert len(listed) == 3
    assert tenant.delete(f"/v2.0/security-group-rules/{rule['id']}")[0] == 204
    status, body = tenant.get(f"/v2.0/security-group-rules/{rule['id']}")
    assert status == 404 and body["NeutronError"]["type"] == "SecurityGroupRuleNotFound"
    assert tenant.delete(f"/v2.0/security-groups/{sg['id']}")[0] == 204
    status, body = tenant.get(f"/v2.0/security-groups/{sg['id']}")
    assert status == 404 and body["NeutronError"]["type"] == "SecurityGroupNotFound"


def test_duplicate_rule_is_409_also_by_protocol_number(tenant):
    sg = sg_create(tenant, name="dup")
    first = rule_create(tenant, security_group_id=sg["id"], direction="ingress", protocol="tcp",
                        port_range_min=22, port_range_max=22)[1]["security_group_rule"]
    status, body = rule_create(tenant, security_group_id=sg["id"], direction="ingress", protocol="6",
                               port_range_min=22, port_range_max=22)
    assert status == 409 and body["NeutronError"]["type"] == "SecurityGroupRuleExists"
    assert first["id"] in body["NeutronError"]["message"]


def test_concurrent_duplicate_rules_only_one_wins(tenant):
    sg = sg_create(tenant, name="race")
    req = dict(security_group_id=sg["id"], direction="ingress", protocol="udp", port_range_min=53,
               port_range_max=53)
    with ThreadPoolExecutor(5) as pool:
        statuses = sorted(s for s, _ in pool.map(lambda _: rule_create(tenant, **req), range(5)))
    assert statuses == [201, 409, 409, 409, 409]


@pytest.mark.parametrize("attrs,etype", [
    ({"protocol": "tcp", "port_range_min": 90, "port_range_max": 80}, "SecurityGroupInvalidPortRange"),
    ({"protocol": "tcp", "port_range_min": 0, "port_range_max": 80}, "SecurityGroupInvalidPortValue"),
    ({"protocol": "icmp", "port_range_min": 256}, "SecurityGroupInvalidIcmpValue"),
    ({"protocol": "icmp", "port_range_max": 3}, "SecurityGroupMissingIcmpType"),
    ({"protocol": "nope"}, "SecurityGroupRuleInvalidProtocol"),
    ({"remote_ip_prefix": "2001:db8::/64"}, "SecurityGroupRuleParameterConflict"),
    ({"protocol": "gre", "port_range_min": 1, "port_range_max": 2}, "SecurityGroupInvalidProtocolForPortRange"),
])
def test_rule_validation_errors(tenant, attrs, etype):
    sg = sg_create(tenant, name="val")
    status, body = rule_create(tenant, security_group_id=sg["id"], direction="ingress", **attrs)
    assert status == 400 and body["NeutronError"]["type"] == etype, body


def test_remote_group_and_prefix_together_400_unknown_remote_404(tenant):
    sg = sg_create(tenant, name="rg")
    status, body = rule_create(tenant, security_group_id=sg["id"], direction="ingress", remote_group_id=sg["id"],
                               remote_ip_prefix="10.0.0.0/8")
    assert status == 400 and body["NeutronError"]["type"] == "SecurityGroupRemoteGroupAndRemoteIpPrefix"
    status, body = rule_create(tenant, security_group_id=sg["id"], direction="ingress",
                               remote_group_id=str(uuid.uuid4()))
    assert status == 404 and body["NeutronError"]["type"] == "SecurityGroupNotFound"


def test_ports_get_default_group_and_in_use_group_cannot_be_deleted(tenant):
    net = tenant.create("network", name="sgnet")
    port = tenant.create("port", network_id=net["id"])
    default = tenant.get("/v2.0/security-groups")[1]["security_groups"][0]
    assert port["security_groups"] == [default["id"]] and port["port_security_enabled"] is True
    sg = sg_create(tenant, name="used")
    status, body = tenant.put(f"/v2.0/ports/{port['id']}", {"port": {"security_groups": [sg["id"]]}})
    assert status == 200 and body["port"]["security_groups"] == [sg["id"]]
    status, body = tenant.delete(f"/v2.0/security-groups/{sg['id']}")
    assert status == 409 and body["NeutronError"]["type"] == "SecurityGroupInUse"
    status, body = tenant.put(f"/v2.0/ports/{port['id']}", {"port": {"security_groups": [str(uuid.uuid4())]}})
    assert status == 404 and body["NeutronError"]["type"] == "SecurityGroupNotFound"


def test_port_security_rules(tenant):
    net = tenant.create("network", name="psnet", port_security_enabled=False)
    plain = tenant.create("port", network_id=net["id"])
    assert plain["port_security_enabled"] is False and plain["security_groups"] == []
    default = tenant.get("/v2.0/security-groups")[1]["security_groups"][0]
    status, body = tenant.post("/v2.0/ports", {"port": {"network_id": net["id"], "security_groups": [default["id"]]}})
    assert status == 400 and body["NeutronError"]["type"] == "PortSecurityAndIPRequiredForSecurityGroups"
    net2 = tenant.create("network", name="psnet2")
    port = tenant.create("port", network_id=net2["id"],
                         allowed_address_pairs=[{"ip_address": "10.9.9.9"}, {"ip_address": "10.8.0.0/16"}])
    assert [p["ip_address"] for p in port["allowed_address_pairs"]] == ["10.9.9.9", "10.8.0.0/16"]
    status, body = tenant.put(f"/v2.0/ports/{port['id']}", {"port": {"port_security_enabled": False}})
    assert status == 409 and body["NeutronError"]["type"] == "PortSecurityPortHasSecurityGroup"
    status, body = tenant.put(f"/v2.0/ports/{port['id']}",
                              {"port": {"port_security_enabled": False, "security_groups": []}})
    assert status == 200 and body["port"]["port_security_enabled"] is False
    assert body["port"]["security_groups"] == []
