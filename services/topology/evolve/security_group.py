"""Fold of security group facts into rows (pure).

One row per group (``security_groups``) and one per rule (``security_group_rules``);
the view puts a group's rules into its body as Neutron shows them. Every row's
``seq`` is the group subject's last sequence: rule writes expect it too, since rules
live in their group's aggregate.
"""

from __future__ import annotations

from netledger.libs.events.envelope import Envelope
from netledger.libs.events.network import TagsChanged
from netledger.libs.events.security_group import (
    SecurityGroupCreated, SecurityGroupDeleted, SecurityGroupRuleAdded, SecurityGroupRuleRemoved,
    SecurityGroupUpdated, SgRule,
)

from . import Delete, Put, Reader, Write, apply_changes, bump, dumps, loads

SCHEMA = {
    "security_groups": ({"id": str, "project_id": str, "name": str, "body": str, "seq": int}, ["id"]),
    "security_group_rules": ({"id": str, "security_group_id": str, "project_id": str, "remote_group_id": str,
                              "body": str, "seq": int}, ["id"]),
}
INDEXES = {"security_groups": [["project_id"]],
           "security_group_rules": [["security_group_id"], ["remote_group_id"]]}
VIEWS = {
    "security_groups_v": """
        SELECT g.id, g.project_id, g.seq, json_set(g.body, '$.security_group_rules',
          (SELECT json_group_array(json(r.body)) FROM (SELECT body FROM security_group_rules
           WHERE security_group_id = g.id ORDER BY json_extract(body, '$.created_at'), id) r)) AS body
        FROM security_groups g""",
    "security_group_rules_v": """
        SELECT r.id, r.project_id, g.seq, r.security_group_id, r.body FROM security_group_rules r
        JOIN security_groups g ON g.id = r.security_group_id""",
}


def rule_body(rule: SgRule, sg_id: str, time: str, is_default: bool) -> dict:
    prefix = rule.remote_ip_prefix or None
    return {
        "id": rule.id, "security_group_id": sg_id, "direction": rule.direction, "ethertype": rule.ethertype,
        "protocol": rule.protocol or None, "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max, "remote_ip_prefix": prefix, "normalized_cidr": prefix,
        "remote_group_id": rule.remote_group_id or None,
        "remote_address_group_id": rule.remote_address_group_id or None, "description": rule.description,
        "project_id": rule.project_id, "tenant_id": rule.project_id, "belongs_to_default_sg": is_default,
        "created_at": time, "updated_at": time, "revision_number": 0,
    }


def _rule_row(body: dict, seq: int) -> dict:
    return {"id": body["id"], "security_group_id": body["security_group_id"], "project_id": body["project_id"],
            "remote_group_id": body["remote_group_id"] or "", "body": dumps(body), "seq": seq}


def _group_row(body: dict, seq: int) -> dict:
    return {"id": body["id"], "project_id": body["project_id"], "name": body["name"], "body": dumps(body),
            "seq": seq}


def _created(ev: SecurityGroupCreated, env: Envelope, seq: int) -> list[Write]:
    body = {"id": ev.security_group_id, "name": ev.name, "description": ev.description,
            "project_id": ev.project_id, "tenant_id": ev.project_id, "stateful": ev.stateful, "shared": False,
            "tags": sorted(ev.tags), "created_at": env.time, "updated_at": env.time, "revision_number": 0}
    writes: list[Write] = [Put(table="security_groups", row=_group_row(body, seq))]
    for rule in ev.rules:
        writes.append(Put(table="security_group_rules",
                          row=_rule_row(rule_body(rule, ev.security_group_id, env.time, ev.is_default), seq)))
    return writes


def evolve_security_group(env: Envelope, seq: int, read: Reader) -> list[Write]:
    """Deleting a group deletes its rules with it (one Delete keyed by the group)."""
    ev = env.event
    if isinstance(ev, SecurityGroupCreated):
        return _created(ev, env, seq)
    cur = read("security_groups", env.aggregate_id)
    if cur is None:
        return []
    body = loads(cur["body"])
    match ev:
        case SecurityGroupDeleted():
            return [Delete(table="security_groups", key={"id": ev.security_group_id}),
                    Delete(table="security_group_rules", key={"security_group_id": ev.security_group_id})]
        case SecurityGroupUpdated():
            body = apply_changes(body, ev, {"name": "name", "description": "description", "stateful": "stateful"},
                                 time=env.time)
        case SecurityGroupRuleAdded():
            body = bump(body, env.time)
            rule = rule_body(ev.rule, ev.security_group_id, env.time, body["name"] == "default")
            return [Put(table="security_groups", row=_group_row(body, seq)),
                    Put(table="security_group_rules", row=_rule_row(rule, seq))]
        case SecurityGroupRuleRemoved():
            body = bump(body, env.time)
            return [Put(table="security_groups", row=_group_row(body, seq)),
                    Delete(table="security_group_rules", key={"id": ev.rule_id})]
        case TagsChanged():
            body = bump({**body, "tags": sorted(ev.tags)}, env.time)
        case _:
            return []
    return [Put(table="security_groups", row=_group_row(body, seq))]


FOLDS = {"security_group": evolve_security_group}
