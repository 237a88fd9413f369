"""Neutron's default policy (recent releases, enforce_new_defaults on, scope checks
off) and the policy-file overlay.

Invariant: the effective rules are DEFAULTS with the file's entries replacing rules
of the same name; the file is read once at start-up, and a malformed file stops the
API from starting (a typo must never silently widen access).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from .policy import Policy, parse

_ADMIN = "rule:admin_only"
_MEMBER = "rule:admin_or_project_member"
_READER = "rule:admin_or_project_reader"

BASE = {
    "context_is_admin": "role:admin",
    "admin_only": "rule:context_is_admin",
    "project_member": "role:member and project_id:%(project_id)s",
    "project_reader": "role:reader and project_id:%(project_id)s",
    "admin_or_project_member": "rule:admin_only or rule:project_member",
    "admin_or_project_reader": "rule:admin_only or rule:project_reader",
    "service_api": "role:service",
    "network_owner": "tenant_id:%(network:tenant_id)s",
    "shared": "field:networks:shared=True",
    "external": "field:networks:router:external=True",
    "restrict_wildcard": ("(not field:rbac_policy:target_tenant=* and not field:rbac_policy:target_project=*)"
                          " or rule:admin_only"),
    "default": _ADMIN,
}

_PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")
_BINDING = ("binding:host_id", "binding:profile")


def _crud(kind: str, *, write: str = _MEMBER, read: str = _READER) -> dict[str, str]:
    return {f"create_{kind}": write, f"get_{kind}": read, f"update_{kind}": write, f"delete_{kind}": write}


def _defaults() -> dict[str, str]:
    rules = dict(BASE)
    for kind in ("network", "subnet", "router", "floatingip", "security_group", "security_group_rule",
                 "rbac_policy", "address_scope", "subnetpool", "trunk"):
        rules.update(_crud(kind))
    rules["get_network"] = f"{_READER} or rule:shared or rule:external"
    rules["get_subnet"] = f"{_READER} or rule:shared"
    svc = "rule:service_api"
    rules.update(_crud("port", write=f"{_MEMBER} or {svc}", read=f"{_READER} or {svc}"))
    for action in ("create", "update"):
        for attr in ("shared", "router:external", *_PROVIDER):
            rules[f"{action}_network:{attr}"] = _ADMIN
        for attr in _BINDING:
            rules[f"{action}_port:{attr}"] = f"{_ADMIN} or {svc}"
        rules[f"{action}_rbac_policy:target_tenant"] = "rule:restrict_wildcard"
        rules[f"{action}_router:external_gateway_info:enable_snat"] = _ADMIN
        rules[f"{action}_router:external_gateway_info:external_fixed_ips"] = _ADMIN
    rules["add_router_interface"] = _MEMBER
    rules["remove_router_interface"] = _MEMBER
    rules["get_quota"] = "rule:admin_only or rule:project_reader"
    rules["update_quota"] = _ADMIN
    rules["delete_quota"] = _ADMIN
    rules["get_agent"] = _ADMIN
    # Attributes only admins may set (Neutron's defaults), enforced by the same engine
    # both in the middleware and, for every item of a bulk body, by validate_body.
    for action in ("create", "update"):
        for attr in ("distributed", "ha"):
            rules[f"{action}_router:{attr}"] = _ADMIN
        for kind in ("firewall_group", "firewall_policy", "firewall_rule"):
            rules[f"{action}_{kind}:shared"] = _ADMIN
    rules["create_floatingip:floating_ip_address"] = _ADMIN
    # Attributes only admins (and Nova's service role, for bindings) see.
    for attr in _PROVIDER:
        rules[f"get_network:{attr}"] = _ADMIN
    for attr in (*_BINDING, "binding:vif_type", "binding:vif_details"):
        rules[f"get_port:{attr}"] = f"{_ADMIN} or {svc}"
    return rules


DEFAULTS = _defaults()


def load_rules(path: str | None) -> dict[str, str]:
    """DEFAULTS overlaid by the YAML or JSON file at ``path`` (rule name -> check string)."""
    rules = dict(DEFAULTS)
    if not path:
        return rules
    text = Path(path).read_text()
    data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    if data is None:
        return rules
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError(f"policy file {path}: expected a mapping of rule name -> check string")
    for name, check in data.items():
        parse(check)  # refuse the file now rather than at the first request
        rules[name] = check
    return rules


def load_policy(path: str | None) -> Policy:
    return Policy(load_rules(path))
