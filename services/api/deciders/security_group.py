"""Deciders for security groups and their rules (pure).

Every fact expects the group subject's last sequence (0 for a create), so the
duplicate-rule check and "the default group exists once per project" are race-free:
a concurrent writer makes ours fail, we re-read and decide again (then the duplicate
is seen and answered 409, or the default group is found and left alone).
"""

from __future__ import annotations

import ipaddress
import uuid

from netledger.errors import BadRequest, Conflict
from netledger.libs.events.security_group import (
    SecurityGroupCreated, SecurityGroupDeleted, SecurityGroupRuleAdded, SecurityGroupRuleRemoved,
    SecurityGroupUpdated, SgRule, default_group_id,
)
from netledger.libs.events.subjects import Subjects

from . import Plan, Publication

# IANA numbers of the names Neutron accepts (neutron-lib constants.IP_PROTOCOL_MAP).
PROTOCOLS = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2, "ipip": 4,
    "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60,
    "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136,
    "vrrp": 112,
}
PORT_PROTOCOLS = {6, 17, 132, 136, 33}
ICMP_PROTOCOLS = {1, 58}
DIRECTIONS = ("ingress", "egress")
ETHERTYPES = ("IPv4", "IPv6")
_RULE_NS = uuid.UUID("a1f0c3de-5b1e-4e55-9a0b-72756c657321")


def group_pub(subjects: Subjects, sg_id: str, event, step: str, seq: int | None) -> Publication:
    return Publication(subject=subjects.aggregate("security_group", sg_id), kind="security_group",
                       aggregate_id=sg_id, event=event, step=step, expect_seq=seq)


def protocol_number(protocol: str) -> int | None:
    """None for "any"; the IANA number otherwise (names and numbers compare equal)."""
    if protocol in ("", "any"):
        return None
    return PROTOCOLS[protocol] if protocol in PROTOCOLS else int(protocol)


def _bad(msg: str, type: str) -> BadRequest:
    return BadRequest(msg, type=type)


def normalize_protocol(value) -> str:
    if value is None or value in ("", "any"):
        return ""
    text = str(value).lower()
    if text in PROTOCOLS:
        return text
    if text.isdigit() and 0 <= int(text) <= 255:
        return str(int(text))
    raise _bad(f"Security group rule protocol {value} not supported. Only protocol values "
               f"{sorted(PROTOCOLS) + ['any']} and integer representations [0 to 255] are supported.",
               "SecurityGroupRuleInvalidProtocol")


def _check_ports(proto: int | None, lo, hi) -> tuple[int | None, int | None]:
    """Port range (tcp/udp/...) or ICMP type/code, as neutron-lib validates them."""
    if lo is None and hi is None:
        return None, None
    if proto in ICMP_PROTOCOLS:
        for field, attr, v in (("type", "port_range_min", lo), ("code", "port_range_max", hi)):
            if v is not None and not 0 <= v <= 255:
                raise _bad(f"Invalid value for ICMP {field} ({attr}) {v}. It must be 0 to 255.",
                           "SecurityGroupInvalidIcmpValue")
        if lo is None:
            raise _bad(f"ICMP code (port-range-max) {hi} is provided but ICMP type (port-range-min) is missing.",
                       "SecurityGroupMissingIcmpType")
        return lo, hi
    if proto not in PORT_PROTOCOLS:
        raise _bad("Port range is only supported for TCP, UDP, UDPLITE, SCTP and DCCP protocols.",
                   "SecurityGroupInvalidProtocolForPortRange")
    for v in (lo, hi):
        if v is not None and not 1 <= v <= 65535:
            raise _bad(f"Invalid value for port {v}", "SecurityGroupInvalidPortValue")
    lo, hi = (hi if lo is None else lo), (lo if hi is None else hi)
    if lo > hi:
        raise _bad("For TCP/UDP protocols, port_range_min must be <= port_range_max",
                   "SecurityGroupInvalidPortRange")
    return lo, hi


def _check_prefix(prefix: str | None, ethertype: str) -> str:
    if not prefix:
        return ""
    try:
        net = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        raise BadRequest(f"Invalid input for remote_ip_prefix. Reason: '{prefix}' is not a valid IP prefix.",
                         type="HTTPBadRequest") from None
    if (net.version == 4) != (ethertype == "IPv4"):
        raise _bad(f"Conflicting value ethertype {ethertype} for CIDR {prefix}",
                   "SecurityGroupRuleParameterConflict")
    return str(net)


def build_rule(req: dict, *, rule_id: str, project_id: str, time: str = "") -> SgRule:
    """A validated, normalised rule from a request body (no lookups: existence of the
    group and of the remote group is the handler's business)."""
    direction, ethertype = req.get("direction"), req.get("ethertype") or "IPv4"
    if direction not in DIRECTIONS:
        raise BadRequest(f"Invalid input for direction. Reason: {direction} is not in {list(DIRECTIONS)}.",
                         type="HTTPBadRequest")
    if ethertype not in ETHERTYPES:
        raise _bad(f"Security group rule for ethertype '{ethertype}' not supported. Allowed values are "
                   f"{list(ETHERTYPES)}.", "SecurityGroupRuleInvalidEtherType")
    if req.get("remote_ip_prefix") and req.get("remote_group_id"):
        raise _bad("Only remote_ip_prefix or remote_group_id may be provided.",
                   "SecurityGroupRemoteGroupAndRemoteIpPrefix")
    protocol = normalize_protocol(req.get("protocol"))
    lo, hi = _check_ports(protocol_number(protocol), req.get("port_range_min"), req.get("port_range_max"))
    return SgRule(id=rule_id, project_id=project_id, direction=direction, ethertype=ethertype,
                  protocol=protocol, port_range_min=lo, port_range_max=hi,
                  remote_ip_prefix=_check_prefix(req.get("remote_ip_prefix"), ethertype),
                  remote_group_id=req.get("remote_group_id") or "",
                  remote_address_group_id=req.get("remote_address_group_id") or "",
                  description=req.get("description") or "", created_at=time)


def rule_identity(rule: SgRule) -> tuple:
    """What makes two rules the same rule (Neutron's duplicate check: not id/description)."""
    return (rule.direction, rule.ethertype, protocol_number(rule.protocol), rule.port_range_min,
            rule.port_range_max, rule.remote_ip_prefix, rule.remote_group_id, rule.remote_address_group_id)


def rule_id_for(sg_id: str, n: int) -> str:
    return str(uuid.uuid5(_RULE_NS, f"{sg_id}/{n}"))


def initial_rules(sg_id: str, project_id: str, *, is_default: bool, time: str = "") -> tuple[SgRule, ...]:
    """Neutron's starting rules: all egress (v4, v6); the default group also admits
    ingress from its own members (v4, v6)."""
    rules = [SgRule(id=rule_id_for(sg_id, n), project_id=project_id, direction="egress", ethertype=e,
                    created_at=time) for n, e in enumerate(ETHERTYPES)]
    if is_default:
        rules += [SgRule(id=rule_id_for(sg_id, 2 + n), project_id=project_id, direction="ingress", ethertype=e,
                         remote_group_id=sg_id, created_at=time) for n, e in enumerate(ETHERTYPES)]
    return tuple(rules)


def decide_create(req: dict, *, sg_id: str, project_id: str, subjects: Subjects, time: str = "") -> Plan:
    if req.get("name") == "default":
        raise Conflict("Default security group already exists.", type="SecurityGroupDefaultAlreadyExists")
    ev = SecurityGroupCreated(security_group_id=sg_id, project_id=project_id, name=req.get("name", ""),
                              description=req.get("description", ""), stateful=req.get("stateful", True),
                              rules=initial_rules(sg_id, project_id, is_default=False, time=time),
                              tags=tuple(req.get("tags") or ()))
    return Plan(facts=(group_pub(subjects, sg_id, ev, "create", 0),), resource_id=sg_id)


def decide_default(project_id: str, *, exists: bool, subjects: Subjects, time: str = "") -> Plan:
    """The project's default group if it does not exist yet (expected sequence 0: of
    two racing creators one wins, the other re-reads and finds it)."""
    sg_id = default_group_id(project_id)
    if exists or not project_id:
        return Plan(resource_id=sg_id)
    ev = SecurityGroupCreated(security_group_id=sg_id, project_id=project_id, name="default",
                              description="Default security group", is_default=True,
                              rules=initial_rules(sg_id, project_id, is_default=True, time=time))
    return Plan(facts=(group_pub(subjects, sg_id, ev, "default-sg", 0),), resource_id=sg_id)


def decide_update(group: dict, seq: int, changes: dict, *, subjects: Subjects) -> Plan:
    sg_id = group["id"]
    if group["name"] == "default" and changes.get("name", "default") != "default":
        raise Conflict("Insufficient rights for removing default security group.",
                       type="SecurityGroupCannotUpdateDefault")
    fields = {k: v for k, v in changes.items() if k in ("name", "description", "stateful") and group.get(k) != v}
    if not fields:
        return Plan(resource_id=sg_id)
    ev = SecurityGroupUpdated(security_group_id=sg_id, **fields)
    return Plan(facts=(group_pub(subjects, sg_id, ev, "update", seq),), resource_id=sg_id)


def decide_add_rule(group: dict, seq: int, rule: SgRule, *, subjects: Subjects) -> Plan:
    """409 SecurityGroupRuleExists when an equal rule is already in the group."""
    for existing in group.get("security_group_rules", []):
        if rule_identity(rule_from_body(existing)) == rule_identity(rule):
            raise Conflict(f"Security group rule already exists. Rule id is {existing['id']}.",
                           type="SecurityGroupRuleExists")
    ev = SecurityGroupRuleAdded(security_group_id=group["id"], rule=rule)
    return Plan(facts=(group_pub(subjects, group["id"], ev, f"rule-add:{rule.id}", seq),), resource_id=rule.id)


def decide_remove_rule(group: dict, seq: int, rule_id: str, *, subjects: Subjects) -> Plan:
    ev = SecurityGroupRuleRemoved(security_group_id=group["id"], rule_id=rule_id)
    return Plan(facts=(group_pub(subjects, group["id"], ev, f"rule-del:{rule_id}", seq),), resource_id=rule_id)


def decide_delete(group: dict, seq: int, *, ports_using: int, is_admin: bool, subjects: Subjects) -> Plan:
    """The default group stays (409) unless an admin deletes it; a group in use stays."""
    if group["name"] == "default" and not is_admin:
        raise Conflict("Insufficient rights for removing default security group.",
                       type="SecurityGroupCannotRemoveDefault")
    if ports_using:
        raise Conflict(f"Security Group {group['id']} in use.", type="SecurityGroupInUse")
    ev = SecurityGroupDeleted(security_group_id=group["id"])
    return Plan(facts=(group_pub(subjects, group["id"], ev, "delete", seq),), resource_id=group["id"])


def rule_from_body(body: dict) -> SgRule:
    return SgRule(id=body["id"], project_id=body.get("project_id", ""), direction=body["direction"],
                  ethertype=body["ethertype"], protocol=body.get("protocol") or "",
                  port_range_min=body.get("port_range_min"), port_range_max=body.get("port_range_max"),
                  remote_ip_prefix=body.get("remote_ip_prefix") or "", remote_group_id=body.get("remote_group_id") or "",
                  remote_address_group_id=body.get("remote_address_group_id") or "",
                  description=body.get("description") or "")
