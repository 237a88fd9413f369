"""The check-string evaluator and Neutron's default rules (pure, table-driven)."""

from __future__ import annotations

import json

import pytest

from netledger.services.api.auth.actions import action_for
from netledger.services.api.auth.policy import Credentials, Policy, PolicySyntaxError, parse
from netledger.services.api.auth.rules import DEFAULTS, load_policy, load_rules
from netledger.services.api.auth.tokens import TokenCache, TokenInfo

ADMIN = Credentials(user_id="u0", project_id="p0", roles=("admin", "member", "reader"), is_admin=True)
MEMBER = Credentials(user_id="u1", project_id="p1", roles=("member", "reader"))
READER = Credentials(user_id="u2", project_id="p1", roles=("reader",))
OTHER = Credentials(user_id="u3", project_id="p2", roles=("member", "reader"))
SERVICE = Credentials(user_id="nova", project_id="service", roles=("service",))
NOBODY = Credentials(user_id="u4", project_id="p1", roles=())

OWN = {"project_id": "p1", "tenant_id": "p1"}


@pytest.mark.parametrize("check, creds, target, expected", [
    ("@", NOBODY, {}, True),
    ("!", ADMIN, {}, False),
    ("", NOBODY, {}, True),
    ("role:admin", ADMIN, {}, True),
    ("role:ADMIN", ADMIN, {}, True),
    ("role:admin", MEMBER, {}, False),
    ("project_id:%(project_id)s", MEMBER, OWN, True),
    ("project_id:%(project_id)s", OTHER, OWN, False),
    ("project_id:%(project_id)s", MEMBER, {}, False),            # missing target key fails closed
    ("is_admin:True", ADMIN, {}, True),
    ("is_admin:True", MEMBER, {}, False),
    ("role:member and project_id:%(project_id)s", MEMBER, OWN, True),
    ("role:member and project_id:%(project_id)s", READER, OWN, False),
    ("role:admin or role:reader", READER, {}, True),
    ("not role:admin", MEMBER, {}, True),
    ("not role:admin", ADMIN, {}, False),
    ("(role:admin or role:member) and not project_id:%(project_id)s", OTHER, OWN, True),
    ("role:reader and (project_id:%(project_id)s or role:admin)", READER, OWN, True),
    ("'*':%(target_tenant)s", MEMBER, {"target_tenant": "*"}, True),
    ("'*':%(target_tenant)s", MEMBER, {"target_tenant": "p9"}, False),
    ("field:networks:shared=True", MEMBER, {"shared": True}, True),
    ("field:networks:shared=True", MEMBER, {"shared": False}, False),
    ("field:rbac_policy:target_tenant=*", MEMBER, {"target_tenant": "*"}, True),
    ("user_id:%(user_id)s", MEMBER, {"user_id": "u1"}, True),
])
def test_check_strings(check, creds, target, expected):
    assert Policy({"r": check}).enforce("r", creds, target) is expected


def test_rules_refer_to_rules_and_unknown_names_use_default():
    p = Policy({"default": "role:admin", "a": "rule:b", "b": "role:member", "loop": "rule:loop",
                "dangling": "rule:missing"})
    assert p.enforce("a", MEMBER, {}) is True
    assert p.enforce("never_defined", MEMBER, {}) is False       # -> default
    assert p.enforce("never_defined", ADMIN, {}) is True
    assert p.enforce("loop", ADMIN, {}) is False                 # recursion fails closed
    assert p.enforce("dangling", ADMIN, {}) is False


@pytest.mark.parametrize("bad", ["role:admin and", "(role:admin", "role:admin)", "admin", "not"])
def test_syntax_errors(bad):
    with pytest.raises(PolicySyntaxError):
        parse(bad)


@pytest.mark.parametrize("rule, creds, target, expected", [
    ("create_network", MEMBER, OWN, True),
    ("create_network", READER, OWN, False),
    ("create_network", NOBODY, OWN, False),
    ("create_network", OTHER, OWN, False),
    ("create_network", ADMIN, OWN, True),
    ("get_network", READER, OWN, True),
    ("get_network", OTHER, {**OWN, "shared": True}, True),
    ("get_network", OTHER, {**OWN, "shared": False}, False),
    ("update_network", READER, OWN, False),
    ("delete_port", READER, OWN, False),
    ("create_network:shared", MEMBER, OWN, False),
    ("create_network:shared", ADMIN, OWN, True),
    ("create_network:provider:network_type", MEMBER, OWN, False),
    ("update_network:router:external", MEMBER, OWN, False),
    ("create_port:binding:host_id", SERVICE, OWN, True),
    ("create_port:binding:host_id", MEMBER, OWN, False),
    ("update_port", SERVICE, OWN, True),
    ("get_port", SERVICE, OWN, True),
    ("create_rbac_policy:target_tenant", MEMBER, {**OWN, "target_tenant": "*"}, False),
    ("create_rbac_policy:target_tenant", MEMBER, {**OWN, "target_tenant": "p2"}, True),
    ("create_rbac_policy:target_tenant", ADMIN, {**OWN, "target_tenant": "*"}, True),
    ("update_quota", MEMBER, OWN, False),
    ("get_quota", READER, OWN, True),
    ("get_quota", OTHER, OWN, False),
])
def test_neutron_defaults(rule, creds, target, expected):
    assert Policy(DEFAULTS).enforce(rule, creds, target) is expected


def test_policy_file_overrides_yaml_and_json(tmp_path):
    y = tmp_path / "policy.yaml"
    y.write_text('"create_network:shared": "role:member"\n"create_network": "role:admin"\n')
    p = load_policy(str(y))
    assert p.enforce("create_network:shared", MEMBER, OWN) is True
    assert p.enforce("create_network", MEMBER, OWN) is False
    assert p.enforce("create_port", MEMBER, OWN) is True           # untouched default
    j = tmp_path / "policy.json"
    j.write_text(json.dumps({"get_network": "!"}))
    assert load_policy(str(j)).enforce("get_network", ADMIN, OWN) is False
    assert load_rules(None) == DEFAULTS


def test_policy_file_with_a_bad_rule_is_refused(tmp_path):
    bad = tmp_path / "policy.yaml"
    bad.write_text('"create_network": "role:admin and"\n')
    with pytest.raises(PolicySyntaxError):
        load_policy(str(bad))
    bad.write_text("- a list\n")
    with pytest.raises(ValueError):
        load_policy(str(bad))


@pytest.mark.parametrize("method, path, name", [
    ("GET", "/v2.0/networks", "get_network"),
    ("POST", "/v2.0/networks", "create_network"),
    ("PUT", "/v2.0/ports/x", "update_port"),
    ("DELETE", "/v2.0/subnets/x", "delete_subnet"),
    ("PUT", "/v2.0/networks/x/tags/t", "update_network"),
    ("GET", "/v2.0/networks/x/tags", "get_network"),
    ("PUT", "/v2.0/routers/x/add_router_interface", "add_router_interface"),
    ("POST", "/v2.0/rbac-policies", "create_rbac_policy"),
    ("POST", "/v2.0/security-group-rules", "create_security_group_rule"),
    ("GET", "/v2.0/quotas/p1", None),
    ("PUT", "/v2.0/fwaas/firewall_groups/x", "update_firewall_group"),
    ("POST", "/v2.0/vpn/ikepolicies", "create_ikepolicy"),
    ("GET", "/v2/lbaas/loadbalancers", None),
    ("GET", "/", None),
    ("GET", "/v2.0/extensions", None),
])
def test_actions(method, path, name):
    action = action_for(method, path)
    assert (action.name if action else None) == name


def test_token_cache_never_outlives_expiry_or_ttl():
    cache = TokenCache(ttl=30)
    info = TokenInfo(creds=MEMBER, expires_at=1000.0)
    cache.put("t", info, now=900.0)
    assert cache.get("t", 929.0) is info
    assert cache.get("t", 930.0) is None                     # TTL: revocations take effect
    cache.put("t", info, now=990.0)
    assert cache.get("t", 999.0) is info
    assert cache.get("t", 1000.0) is None                    # never past expires_at
    cache.put("gone", info, now=1001.0)
    assert cache.get("gone", 1001.0) is None


def test_token_cache_is_bounded():
    cache = TokenCache(ttl=30, max_entries=10)
    for i in range(25):
        cache.put(f"t{i}", TokenInfo(creds=MEMBER, expires_at=10_000.0 + i), now=0.0)
    assert len(cache._items) <= 10
    assert cache.get("t24", 1.0) is not None
