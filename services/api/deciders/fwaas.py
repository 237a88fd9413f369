"""Deciders for FWaaS v2 (pure): firewall rules, policies (ordered rule lists) and groups.

Each resource is its own aggregate; every fact expects the aggregate's last sequence,
so concurrent edits of one policy's rule list are serialised. Cross-aggregate checks
("a rule in use cannot be deleted", "a port is in one group at a time") are made
against the projection the handler read; the handler hands in what it found.
Errors are neutron-lib's firewall_v2 exceptions (types and messages).
"""

from __future__ import annotations

import ipaddress

from netledger.errors import BadRequest, Conflict, NotFound
from netledger.libs.events.fwaas import (
    FirewallGroupCreated, FirewallGroupDeleted, FirewallGroupUpdated, FirewallPolicyCreated, FirewallPolicyDeleted,
    FirewallPolicyRuleInserted, FirewallPolicyRuleRemoved, FirewallPolicyUpdated, FirewallRuleCreated,
    FirewallRuleDeleted, FirewallRuleUpdated,
)
from netledger.libs.events.subjects import Subjects

from . import Plan, Publication

RULE_MATCH = ("protocol", "ip_version", "source_ip_address", "destination_ip_address", "source_port",
              "destination_port")
RULE_UPDATABLE = ("name", "description", *RULE_MATCH, "action", "enabled", "shared")
POLICY_UPDATABLE = ("name", "description", "firewall_rules", "audited", "shared")
GROUP_UPDATABLE = ("name", "description", "ingress_firewall_policy_id", "egress_firewall_policy_id", "ports",
                   "admin_state_up", "shared")
ROUTER_PORT_OWNERS = ("network:router_interface", "network:router_gateway")


def pub(subjects: Subjects, kind: str, rid: str, event, step: str, seq: int) -> Publication:
    return Publication(subject=subjects.aggregate(kind, rid), kind=kind, aggregate_id=rid, event=event, step=step,
                       expect_seq=seq)


def _invalid(msg: str, type: str) -> BadRequest:
    return BadRequest(f"Invalid input for operation: {msg}", type=type)


# --- rules --------------------------------------------------------------------------

def check_rule(rule: dict) -> None:
    """The whole (merged) rule: ports need tcp/udp, ICMP takes no ports, addresses
    match the IP version (neutron-fwaas _validate_fwr_protocol_parameters & co)."""
    proto = rule.get("protocol")
    has_ports = bool(rule.get("source_port") or rule.get("destination_port"))
    if proto == "icmp" and has_ports:
        raise _invalid("Source, destination port are not allowed when protocol is set to ICMP.",
                       "FirewallRuleInvalidICMPParameter")
    if has_ports and proto not in ("tcp", "udp"):
        raise _invalid("Source/destination port requires a protocol.", "FirewallRuleWithPortWithoutProtocolInvalid")
    for attr in ("source_ip_address", "destination_ip_address"):
        value = rule.get(attr)
        if value and ipaddress.ip_network(value, strict=False).version != rule.get("ip_version", 4):
            raise _invalid("IP addresses do not agree with IP Version.", "FirewallIpAddressConflict")


def _s(value) -> str:
    return "" if value is None else value


def decide_rule_create(project_id: str, req: dict, *, rule_id: str, subjects: Subjects) -> Plan:
    check_rule(req)
    ev = FirewallRuleCreated(rule_id=rule_id, project_id=project_id, name=req.get("name", ""),
                             description=req.get("description", ""), action=req.get("action", "deny"),
                             enabled=req.get("enabled", True), shared=req.get("shared", False),
                             ip_version=req.get("ip_version", 4),
                             **{k: _s(req.get(k)) for k in RULE_MATCH if k != "ip_version"})
    return Plan(facts=(pub(subjects, "firewall_rule", rule_id, ev, "create", 0),), resource_id=rule_id)


def decide_rule_update(cur: dict, seq: int, changes: dict, *, subjects: Subjects) -> Plan:
    check_rule({**cur, **changes})
    fields = {k: (_s(v) if k in RULE_MATCH and k != "ip_version" else v) for k, v in changes.items()
              if k in RULE_UPDATABLE and cur.get(k) != v}
    facts = ()
    if fields:
        facts = (pub(subjects, "firewall_rule", cur["id"], FirewallRuleUpdated(rule_id=cur["id"], **fields),
                     "update", seq),)
    return Plan(facts=facts, resource_id=cur["id"])


def decide_rule_delete(cur: dict, seq: int, *, used_by: list[str], subjects: Subjects) -> Plan:
    if used_by:
        raise Conflict(f"Firewall rule {cur['id']} is being used.", type="FirewallRuleInUse")
    return Plan(facts=(pub(subjects, "firewall_rule", cur["id"], FirewallRuleDeleted(rule_id=cur["id"]), "delete",
                           seq),), resource_id=cur["id"])


# --- policies -----------------------------------------------------------------------

def check_rule_list(rules: list[str]) -> None:
    if len(set(rules)) != len(rules):
        raise BadRequest("Invalid input for firewall_rules. Reason: Duplicate items in the list.")


def decide_policy_create(project_id: str, req: dict, *, policy_id: str, subjects: Subjects) -> Plan:
    rules = list(req.get("firewall_rules") or [])
    check_rule_list(rules)
    ev = FirewallPolicyCreated(policy_id=policy_id, project_id=project_id, name=req.get("name", ""),
                               description=req.get("description", ""), firewall_rules=tuple(rules),
                               audited=req.get("audited", False), shared=req.get("shared", False))
    return Plan(facts=(pub(subjects, "firewall_policy", policy_id, ev, "create", 0),), resource_id=policy_id)


def decide_policy_update(cur: dict, seq: int, changes: dict, *, subjects: Subjects) -> Plan:
    if "firewall_rules" in changes:
        check_rule_list(changes["firewall_rules"])
    fields = {k: (tuple(v) if k == "firewall_rules" else v) for k, v in changes.items() if k in POLICY_UPDATABLE}
    ev = FirewallPolicyUpdated(policy_id=cur["id"], **fields)
    return Plan(facts=(pub(subjects, "firewall_policy", cur["id"], ev, "update", seq),), resource_id=cur["id"])


def insert_position(rules: list[str], rule_id: str, before: str, after: str, policy_id: str) -> int:
    """Neutron: insert_before wins over insert_after; neither means "at the top"."""
    ref = before or after
    if ref and ref not in rules:
        raise BadRequest(f"Invalid input for operation: Firewall rule {ref} is not associated with firewall "
                         f"policy {policy_id}.", type="FirewallRuleNotAssociatedWithPolicy")
    if before:
        return rules.index(before)
    if after:
        return rules.index(after) + 1
    return 0


def decide_insert_rule(cur: dict, seq: int, *, rule_id: str, before: str, after: str, subjects: Subjects) -> Plan:
    if not rule_id:
        raise BadRequest("Missing rule info argument for insert/remove rule operation.", type="FirewallRuleInfoMissing")
    rules = list(cur["firewall_rules"])
    if rule_id in rules:
        raise BadRequest(f"Operation cannot be performed since Firewall Rule {rule_id} is already associated with "
                         f"Firewall Policy {cur['id']}.", type="FirewallRuleAlreadyAssociated")
    pos = insert_position(rules, rule_id, before, after, cur["id"])
    ev = FirewallPolicyRuleInserted(policy_id=cur["id"], rule_id=rule_id, position=pos)
    return Plan(facts=(pub(subjects, "firewall_policy", cur["id"], ev, f"insert-{rule_id}", seq),),
                resource_id=cur["id"])


def decide_remove_rule(cur: dict, seq: int, *, rule_id: str, subjects: Subjects) -> Plan:
    if not rule_id:
        raise BadRequest("Missing rule info argument for insert/remove rule operation.", type="FirewallRuleInfoMissing")
    if rule_id not in cur["firewall_rules"]:
        raise BadRequest(f"Invalid input for operation: Firewall rule {rule_id} is not associated with firewall "
                         f"policy {cur['id']}.", type="FirewallRuleNotAssociatedWithPolicy")
    ev = FirewallPolicyRuleRemoved(policy_id=cur["id"], rule_id=rule_id)
    return Plan(facts=(pub(subjects, "firewall_policy", cur["id"], ev, f"remove-{rule_id}", seq),),
                resource_id=cur["id"])


def decide_policy_delete(cur: dict, seq: int, *, used_by: list[str], subjects: Subjects) -> Plan:
    if used_by:
        raise Conflict(f"Firewall policy {cur['id']} is being used.", type="FirewallPolicyInUse")
    ev = FirewallPolicyDeleted(policy_id=cur["id"])
    return Plan(facts=(pub(subjects, "firewall_policy", cur["id"], ev, "delete", seq),), resource_id=cur["id"])


# --- groups -------------------------------------------------------------------------

def check_ports(group_id: str, project_id: str, ports: list[str], *, found: dict[str, dict],
                taken: dict[str, str], is_admin: bool) -> None:
    """``found``: port id -> {device_owner, project_id (of its router)}; ``taken``:
    port id -> the group holding it now (other than this one)."""
    if len(set(ports)) != len(ports):
        raise BadRequest("Invalid input for ports. Reason: Duplicate items in the list.")
    for pid in ports:
        port = found.get(pid)
        if port is None:
            raise NotFound(f"Port {pid} could not be found.", type="PortNotFound")
        if port["device_owner"] not in ROUTER_PORT_OWNERS:
            raise Conflict(f"Port {pid} of firewall group is invalid.", type="FirewallGroupPortInvalid")
        if not is_admin and port["project_id"] != project_id:
            raise Conflict(f"Operation cannot be performed as port {pid} is in an invalid project {project_id}.",
                           type="FirewallGroupPortInvalidProject")
    busy = sorted(p for p in ports if taken.get(p, group_id) != group_id)
    if busy:
        raise Conflict(f"Port(s) {busy} provided already associated with other firewall group(s).",
                       type="FirewallGroupPortInUse")


def decide_group_create(project_id: str, req: dict, *, group_id: str, subjects: Subjects) -> Plan:
    ev = FirewallGroupCreated(group_id=group_id, project_id=project_id, name=req.get("name", ""),
                              description=req.get("description", ""),
                              ingress_firewall_policy_id=_s(req.get("ingress_firewall_policy_id")),
                              egress_firewall_policy_id=_s(req.get("egress_firewall_policy_id")),
                              ports=tuple(req.get("ports") or ()), admin_state_up=req.get("admin_state_up", True),
                              shared=req.get("shared", False))
    return Plan(facts=(pub(subjects, "firewall_group", group_id, ev, "create", 0),), resource_id=group_id)


def decide_group_update(cur: dict, seq: int, changes: dict, *, subjects: Subjects) -> Plan:
    fields = {}
    for k, v in changes.items():
        if k in GROUP_UPDATABLE and cur.get(k) != v:
            fields[k] = tuple(v) if k == "ports" else (_s(v) if k.endswith("_policy_id") else v)
    facts = ()
    if fields:
        ev = FirewallGroupUpdated(group_id=cur["id"], **fields)
        facts = (pub(subjects, "firewall_group", cur["id"], ev, "update", seq),)
    return Plan(facts=facts, resource_id=cur["id"])


def decide_group_delete(cur: dict, seq: int, *, subjects: Subjects) -> Plan:
    """Neutron refuses to delete an ACTIVE group: here, one still applied to ports."""
    if cur.get("ports") and cur.get("status") == "ACTIVE":
        raise Conflict(f"Firewall group {cur['id']} is still active.", type="FirewallGroupInUse")
    ev = FirewallGroupDeleted(group_id=cur["id"])
    return Plan(facts=(pub(subjects, "firewall_group", cur["id"], ev, "delete", seq),), resource_id=cur["id"])
