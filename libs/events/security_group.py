"""Facts about security groups (aggregate subject: ``subjects.aggregate('security_group', id)``).

Rules live inside their group's aggregate: a rule add expects the group's last
sequence, so two concurrent adds of the same rule cannot both pass the duplicate
check. The ``default`` group of a project has a deterministic id (see
``default_group_id``) and is created with expected sequence 0, so creating it "on
first use" from several requests at once yields exactly one group.
"""

from __future__ import annotations

import uuid

from .base import UNSET, Event, Struct, UnsetType

_DEFAULT_NS = uuid.UUID("5c0a1b1e-9d7e-4c1f-8a5e-64656661756c")


def default_group_id(project_id: str) -> str:
    """The id of a project's default group: the same in every API process, forever."""
    return str(uuid.uuid5(_DEFAULT_NS, f"default-security-group/{project_id}"))


class SgRule(Struct, frozen=True, kw_only=True):
    """One rule, normalised by the decider (protocol as Neutron stores it: a name for
    the well-known ones, else the number as text; "" = any)."""

    id: str
    project_id: str = ""
    direction: str                 # ingress | egress
    ethertype: str = "IPv4"        # IPv4 | IPv6
    protocol: str = ""
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str = ""
    remote_group_id: str = ""
    remote_address_group_id: str = ""
    description: str = ""
    created_at: str = ""


class SecurityGroupCreated(Event, tag="SecurityGroupCreated", frozen=True, kw_only=True):
    security_group_id: str
    project_id: str
    name: str = ""
    description: str = ""
    stateful: bool = True
    is_default: bool = False
    rules: tuple[SgRule, ...] = ()
    tags: tuple[str, ...] = ()


class SecurityGroupUpdated(Event, tag="SecurityGroupUpdated", frozen=True, kw_only=True):
    security_group_id: str
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    stateful: bool | UnsetType = UNSET


class SecurityGroupRuleAdded(Event, tag="SecurityGroupRuleAdded", frozen=True, kw_only=True):
    security_group_id: str
    rule: SgRule


class SecurityGroupRuleRemoved(Event, tag="SecurityGroupRuleRemoved", frozen=True, kw_only=True):
    security_group_id: str
    rule_id: str


class SecurityGroupDeleted(Event, tag="SecurityGroupDeleted", frozen=True, kw_only=True):
    security_group_id: str


EVENTS = (SecurityGroupCreated, SecurityGroupUpdated, SecurityGroupRuleAdded, SecurityGroupRuleRemoved,
          SecurityGroupDeleted)
