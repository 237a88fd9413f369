"""Facts about FWaaS v2 resources and the L3 worker's reports on firewall groups.

Aggregates (one subject each): ``firewall_rule``, ``firewall_policy`` and
``firewall_group``. A policy's rule list changes only through facts on the policy
(``FirewallPolicyUpdated`` with the whole list, or ``FirewallPolicyRuleInserted`` /
``FirewallPolicyRuleRemoved`` with the position decided by the API), so folding is a
plain list edit. The per-router intent structs (``FwRuleIntent``, ``FwGroupIntent``)
live here too: they are what topology compiles into a ``RouterIntent``.
"""

from __future__ import annotations

from .base import UNSET, Event, Struct, UnsetType


class FirewallRuleCreated(Event, tag="FirewallRuleCreated", frozen=True, kw_only=True):
    rule_id: str
    project_id: str
    name: str = ""
    description: str = ""
    protocol: str = ""                   # "" = any
    ip_version: int = 4
    source_ip_address: str = ""
    destination_ip_address: str = ""
    source_port: str = ""                # "80" or "1000:2000"
    destination_port: str = ""
    action: str = "deny"
    enabled: bool = True
    shared: bool = False


class FirewallRuleUpdated(Event, tag="FirewallRuleUpdated", frozen=True, kw_only=True):
    """Only changed fields are set (the rule's whole new match is decided and checked)."""

    rule_id: str
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    protocol: str | UnsetType = UNSET
    ip_version: int | UnsetType = UNSET
    source_ip_address: str | UnsetType = UNSET
    destination_ip_address: str | UnsetType = UNSET
    source_port: str | UnsetType = UNSET
    destination_port: str | UnsetType = UNSET
    action: str | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    shared: bool | UnsetType = UNSET


class FirewallRuleDeleted(Event, tag="FirewallRuleDeleted", frozen=True, kw_only=True):
    rule_id: str


class FirewallPolicyCreated(Event, tag="FirewallPolicyCreated", frozen=True, kw_only=True):
    policy_id: str
    project_id: str
    name: str = ""
    description: str = ""
    firewall_rules: tuple[str, ...] = ()
    audited: bool = False
    shared: bool = False


class FirewallPolicyUpdated(Event, tag="FirewallPolicyUpdated", frozen=True, kw_only=True):
    """Any change resets ``audited`` unless the same update sets it true."""

    policy_id: str
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    firewall_rules: tuple[str, ...] | UnsetType = UNSET
    audited: bool | UnsetType = UNSET
    shared: bool | UnsetType = UNSET


class FirewallPolicyRuleInserted(Event, tag="FirewallPolicyRuleInserted", frozen=True, kw_only=True):
    policy_id: str
    rule_id: str
    position: int                        # index in the list after insertion


class FirewallPolicyRuleRemoved(Event, tag="FirewallPolicyRuleRemoved", frozen=True, kw_only=True):
    policy_id: str
    rule_id: str


class FirewallPolicyDeleted(Event, tag="FirewallPolicyDeleted", frozen=True, kw_only=True):
    policy_id: str


class FirewallGroupCreated(Event, tag="FirewallGroupCreated", frozen=True, kw_only=True):
    group_id: str
    project_id: str
    name: str = ""
    description: str = ""
    ingress_firewall_policy_id: str = ""
    egress_firewall_policy_id: str = ""
    ports: tuple[str, ...] = ()
    admin_state_up: bool = True
    shared: bool = False


class FirewallGroupUpdated(Event, tag="FirewallGroupUpdated", frozen=True, kw_only=True):
    group_id: str
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    ingress_firewall_policy_id: str | UnsetType = UNSET      # "" = none
    egress_firewall_policy_id: str | UnsetType = UNSET
    ports: tuple[str, ...] | UnsetType = UNSET
    admin_state_up: bool | UnsetType = UNSET
    shared: bool | UnsetType = UNSET


class FirewallGroupDeleted(Event, tag="FirewallGroupDeleted", frozen=True, kw_only=True):
    group_id: str


class FirewallGroupStatusReported(Event, tag="FirewallGroupStatusReported", frozen=True, kw_only=True):
    """Status stream: ACTIVE means the group's chains at ``revision`` are in the router's
    table on ``host``; ERROR: applying that router failed; DOWN: the router is gone here."""

    group_id: str
    router_id: str
    host: str
    status: str
    revision: int = 0


# --- intents (what topology compiles for the L3 worker) -----------------------------

class FwRuleIntent(Struct, frozen=True, kw_only=True):
    """An enabled rule as the router enforces it (disabled rules are never compiled)."""

    rule_id: str
    action: str
    protocol: str = ""
    ip_version: int = 4
    source_ip_address: str = ""
    destination_ip_address: str = ""
    source_port: str = ""
    destination_port: str = ""


class FwGroupIntent(Struct, frozen=True, kw_only=True):
    """A firewall group on some ports of one router. ``ingress``/``egress`` None: no
    policy in that direction (traffic passes); a tuple (maybe empty): the rules in
    policy order, then default deny. ``revision`` moves with the group, its policies
    and their rules (it is what status reports acknowledge)."""

    group_id: str
    revision: int = 0
    admin_state_up: bool = True
    ports: tuple[str, ...] = ()
    ingress: tuple[FwRuleIntent, ...] | None = None
    egress: tuple[FwRuleIntent, ...] | None = None


EVENTS = (FirewallRuleCreated, FirewallRuleUpdated, FirewallRuleDeleted, FirewallPolicyCreated,
          FirewallPolicyUpdated, FirewallPolicyRuleInserted, FirewallPolicyRuleRemoved, FirewallPolicyDeleted,
          FirewallGroupCreated, FirewallGroupUpdated, FirewallGroupDeleted, FirewallGroupStatusReported)
