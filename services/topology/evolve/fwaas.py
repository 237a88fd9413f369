"""Fold of FWaaS v2 facts and the L3 workers' firewall group reports (pure).

Rows hold the Neutron bodies (without derived attributes) plus lookup columns. What
depends on other rows is derived in views: a rule's ``firewall_policy_id`` (the
policies using it), a policy's ``audited`` (true only if set by the policy's last
change *and* none of its rules changed since: ``audit_seq``), a group's ``status``
(from the reports of the routers its ports belong to, at the group's revision).
``firewall_port_marks`` remembers, per port, the last group fact that added or
removed it, so topology recompiles the router a port was *detached* from too.
"""

from __future__ import annotations

import msgspec

from netledger.libs.events.envelope import Envelope
from netledger.libs.events.fwaas import (
    FirewallGroupCreated, FirewallGroupDeleted, FirewallGroupStatusReported, FirewallGroupUpdated,
    FirewallPolicyCreated, FirewallPolicyDeleted, FirewallPolicyRuleInserted, FirewallPolicyRuleRemoved,
    FirewallPolicyUpdated, FirewallRuleCreated, FirewallRuleDeleted, FirewallRuleUpdated,
)

from . import Delete, Put, Reader, Write, dumps, loads

SCHEMA = {
    "firewall_rules": ({"id": str, "project_id": str, "body": str, "seq": int}, ["id"]),
    "firewall_policies": ({"id": str, "project_id": str, "body": str, "seq": int, "audit_seq": int}, ["id"]),
    "firewall_groups": ({"id": str, "project_id": str, "ingress_policy_id": str, "egress_policy_id": str,
                         "body": str, "seq": int}, ["id"]),
    "firewall_port_marks": ({"port_id": str, "group_id": str, "seq": int}, ["port_id"]),
    "firewall_group_status": ({"group_id": str, "router_id": str, "host": str, "status": str, "revision": int,
                               "time": str, "seq": int}, ["group_id", "router_id"]),
}
INDEXES = {"firewall_groups": [["ingress_policy_id"], ["egress_policy_id"]],
           "firewall_port_marks": [["seq"]]}

_RULES_OF = "SELECT j.value FROM json_each(json_extract({p}.body, '$.firewall_rules')) j"
_GROUP_ROUTERS = ("SELECT DISTINCT p.device_id FROM ports p, json_each(json_extract(g.body, '$.ports')) j "
                  "WHERE p.id = j.value")
VIEWS = {
    "firewall_rules_v": f"""
        SELECT r.id, r.project_id, r.seq, json_set(r.body, '$.firewall_policy_id',
          json((SELECT json_group_array(p.id) FROM firewall_policies p
                WHERE r.id IN ({_RULES_OF.format(p='p')})))) AS body FROM firewall_rules r""",
    "firewall_policys_v": f"""
        SELECT p.id, p.project_id, p.seq, json_set(p.body, '$.audited', json(CASE
          WHEN json_extract(p.body, '$.audited') = 1 AND NOT EXISTS (SELECT 1 FROM firewall_rules r
               WHERE r.seq > p.audit_seq AND r.id IN ({_RULES_OF.format(p='p')})) THEN 'true' ELSE 'false' END))
          AS body FROM firewall_policies p""",
    # A group's revision: the newest fact among the group, its policies and their rules.
    "firewall_group_revs": f"""
        SELECT g.id, max(g.seq,
          COALESCE((SELECT max(p.seq) FROM firewall_policies p
                    WHERE p.id IN (g.ingress_policy_id, g.egress_policy_id)), 0),
          COALESCE((SELECT max(r.seq) FROM firewall_policies p, firewall_rules r
                    WHERE p.id IN (g.ingress_policy_id, g.egress_policy_id)
                      AND r.id IN ({_RULES_OF.format(p='p')})), 0)) AS rev FROM firewall_groups g""",
    "firewall_groups_v": f"""
        SELECT g.id, g.project_id, g.seq, json_set(g.body, '$.status', CASE
          WHEN json_extract(g.body, '$.admin_state_up') = 0 THEN 'DOWN'
          WHEN json_array_length(json_extract(g.body, '$.ports')) = 0 THEN 'INACTIVE'
          WHEN EXISTS (SELECT 1 FROM firewall_group_status s WHERE s.group_id = g.id AND s.status = 'ERROR'
                       AND s.router_id IN ({_GROUP_ROUTERS})) THEN 'ERROR'
          WHEN NOT EXISTS (SELECT 1 FROM ports p, json_each(json_extract(g.body, '$.ports')) j
                 WHERE p.id = j.value AND NOT EXISTS (
                   SELECT 1 FROM firewall_group_status s, firewall_group_revs v
                   WHERE s.group_id = g.id AND s.router_id = p.device_id AND s.status = 'ACTIVE'
                     AND v.id = g.id AND s.revision >= v.rev)) THEN 'ACTIVE'
          WHEN EXISTS (SELECT 1 FROM firewall_group_status s WHERE s.group_id = g.id) THEN 'PENDING_UPDATE'
          ELSE 'PENDING_CREATE' END) AS body FROM firewall_groups g""",
}

RULE_FIELDS = ("name", "description", "protocol", "ip_version", "source_ip_address", "destination_ip_address",
               "source_port", "destination_port", "action", "enabled", "shared")
_NULLABLE = {"protocol", "source_ip_address", "destination_ip_address", "source_port", "destination_port",
             "ingress_firewall_policy_id", "egress_firewall_policy_id"}


def _set_fields(body: dict, ev: msgspec.Struct, fields) -> dict:
    """Copy the set (non-UNSET) fields of ``ev``; "" becomes null where Neutron shows null."""
    new = dict(body)
    for f in fields:
        value = getattr(ev, f, msgspec.UNSET)
        if value is msgspec.UNSET:
            continue
        value = msgspec.to_builtins(value)
        new[f] = None if (f in _NULLABLE and value == "") else value
    return new


def _owner(ev) -> dict:
    return {"tenant_id": ev.project_id, "project_id": ev.project_id}


def evolve_rule(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    if isinstance(ev, FirewallRuleCreated):
        body = _set_fields({"id": ev.rule_id, **_owner(ev)}, ev, RULE_FIELDS)
        return [Put(table="firewall_rules", row={"id": ev.rule_id, "project_id": ev.project_id,
                                                 "body": dumps(body), "seq": seq})]
    cur = read("firewall_rules", env.aggregate_id)
    if cur is None:
        return []
    if isinstance(ev, FirewallRuleDeleted):
        return [Delete(table="firewall_rules", key={"id": ev.rule_id})]
    if isinstance(ev, FirewallRuleUpdated):
        body = _set_fields(loads(cur["body"]), ev, RULE_FIELDS)
        return [Put(table="firewall_rules", row={**cur, "body": dumps(body), "seq": seq})]
    return []


def evolve_policy(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    if isinstance(ev, FirewallPolicyCreated):
        body = {"id": ev.policy_id, **_owner(ev), "name": ev.name, "description": ev.description,
                "firewall_rules": list(ev.firewall_rules), "audited": ev.audited, "shared": ev.shared}
        return [Put(table="firewall_policies", row={"id": ev.policy_id, "project_id": ev.project_id,
                                                    "body": dumps(body), "seq": seq, "audit_seq": seq})]
    cur = read("firewall_policies", env.aggregate_id)
    if cur is None:
        return []
    body = loads(cur["body"])
    match ev:
        case FirewallPolicyDeleted():
            return [Delete(table="firewall_policies", key={"id": ev.policy_id})]
        case FirewallPolicyUpdated():
            body = _set_fields(body, ev, ("name", "description", "firewall_rules", "shared"))
            body["audited"] = ev.audited is True          # any change resets it unless set now
        case FirewallPolicyRuleInserted():
            rules = [r for r in body["firewall_rules"] if r != ev.rule_id]
            rules.insert(ev.position, ev.rule_id)
            body = {**body, "firewall_rules": rules, "audited": False}
        case FirewallPolicyRuleRemoved():
            body = {**body, "firewall_rules": [r for r in body["firewall_rules"] if r != ev.rule_id],
                    "audited": False}
        case _:
            return []
    return [Put(table="firewall_policies", row={**cur, "body": dumps(body), "seq": seq, "audit_seq": seq})]


GROUP_FIELDS = ("name", "description", "ingress_firewall_policy_id", "egress_firewall_policy_id", "ports",
                "admin_state_up", "shared")


def _group_row(body: dict, seq: int) -> dict:
    return {"id": body["id"], "project_id": body["project_id"], "body": dumps(body), "seq": seq,
            "ingress_policy_id": body["ingress_firewall_policy_id"] or "",
            "egress_policy_id": body["egress_firewall_policy_id"] or ""}


def _marks(group_id: str, ports, seq: int) -> list[Write]:
    return [Put(table="firewall_port_marks", row={"port_id": p, "group_id": group_id, "seq": seq})
            for p in sorted(set(ports))]


def evolve_group(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    if isinstance(ev, FirewallGroupCreated):
        body = _set_fields({"id": ev.group_id, **_owner(ev)}, ev, GROUP_FIELDS)
        return [Put(table="firewall_groups", row=_group_row(body, seq)), *_marks(ev.group_id, ev.ports, seq)]
    cur = read("firewall_groups", env.aggregate_id)
    if cur is None:
        return []
    body = loads(cur["body"])
    if isinstance(ev, FirewallGroupDeleted):
        return [Delete(table="firewall_groups", key={"id": ev.group_id}), *_marks(ev.group_id, body["ports"], seq)]
    if isinstance(ev, FirewallGroupUpdated):
        new = _set_fields(body, ev, GROUP_FIELDS)
        return [Put(table="firewall_groups", row=_group_row(new, seq)),
                *_marks(ev.group_id, [*body["ports"], *new["ports"]], seq)]
    return []


def evolve_fw_status(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    if isinstance(ev, FirewallGroupStatusReported):
        return [Put(table="firewall_group_status", row={
            "group_id": ev.group_id, "router_id": ev.router_id, "host": ev.host, "status": ev.status,
            "revision": ev.revision, "time": env.time, "seq": seq})]
    return []


FOLDS = {"firewall_rule": evolve_rule, "firewall_policy": evolve_policy, "firewall_group": evolve_group}
STATUS_FOLDS = (evolve_fw_status,)
