"""RBAC policy deciders (pure): share a network with a project or everyone, or make
it usable as an external network for them.

The wildcard ``access_as_shared`` policy *is* the network's ``shared`` flag (one
source of truth, shown as a policy with a derived id, as Neutron lists it); every
other policy is its own aggregate under the network's subject tree.

Invariant: a project that has ports on a network keeps access to it. Removing or
retargeting a grant is refused (409) if some project with ports there would lose
access; the removal expects the network's MAC claims unchanged (every port create
claims a MAC first), and port creates expect the network tree (where RBAC facts
live) unchanged, so a port racing a revocation either is seen or fails.
"""

from __future__ import annotations

import uuid

from netledger.errors import BadRequest, Conflict, InvalidInput
from netledger.libs.events.network import NetworkUpdated
from netledger.libs.events.rbac import RbacPolicyCreated, RbacPolicyDeleted, RbacPolicyUpdated
from netledger.libs.events.subjects import Subjects

from ..context import RequestContext
from . import Plan, Publication

ACTIONS = ("access_as_shared", "access_as_external")
OBJECT_TYPES = ("network",)
WILDCARD = "*"
_NS = uuid.UUID("0b6f2a8e-61c3-4c1a-9a39-72626163736e")


def subject(subjects: Subjects, network_id: str, policy_id: str) -> str:
    return f"{subjects.prefix}.evt.net.{network_id}.rbac.{policy_id}"


def wildcard_id(network_id: str) -> str:
    """The id under which a shared network's wildcard policy is shown (stable)."""
    return str(uuid.uuid5(_NS, f"{network_id}/access_as_shared/*"))


def wildcard_policy(net: dict) -> dict:
    return {"id": wildcard_id(net["id"]), "project_id": net["project_id"], "tenant_id": net["project_id"],
            "object_type": "network", "object_id": net["id"], "action": "access_as_shared",
            "target_tenant": WILDCARD}


def policies_of(net: dict, rows: list[dict]) -> list[dict]:
    """All policies of a network: explicit ones plus the wildcard share if shared."""
    return rows + ([wildcard_policy(net)] if net.get("shared") else [])


def validate_create(body) -> dict:
    given = body.get("rbac_policy") if isinstance(body, dict) else None
    if not isinstance(given, dict):
        raise BadRequest("Unable to find 'rbac_policy' in request body")
    known = {"object_type", "object_id", "action", "target_tenant", "target_project", "project_id", "tenant_id"}
    unknown = sorted(set(given) - known)
    if unknown:
        raise BadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    req = dict(given)
    if "target_project" in req:
        req.setdefault("target_tenant", req.pop("target_project"))
    for name in ("object_type", "object_id", "action", "target_tenant"):
        if not isinstance(req.get(name), str) or not req[name]:
            raise BadRequest(f"Failed to parse request. Required attribute '{name}' not specified")
    _one_of(req, "object_type", OBJECT_TYPES)
    _one_of(req, "action", ACTIONS)
    return req


def _one_of(req: dict, name: str, allowed: tuple) -> None:
    if req[name] not in allowed:
        raise BadRequest(f"Invalid input for {name}. Reason: '{req[name]}' is not in {list(allowed)}.",
                         type="InvalidInput")


def _owner_check(ctx: RequestContext, net: dict) -> None:
    # A shared network is visible to others, but only its owner (or an admin) shares it;
    # Neutron checks this in a BEFORE_CREATE callback, so it answers 400 InvalidInput.
    if not ctx.is_admin and net["project_id"] != ctx.project_id:
        raise InvalidInput("Only admins can manipulate policies on networks they do not own.")


def _duplicate(policies: list[dict], action: str, target: str, skip: str = "") -> None:
    if any(p["action"] == action and p["target_tenant"] == target and p["id"] != skip for p in policies):
        raise Conflict("An RBAC policy already exists with those values.", type="DuplicateRbacPolicy")


def decide_create(ctx: RequestContext, req: dict, *, policy_id: str, network: dict, network_seq: int,
                  tree_seq: int, rows: list[dict], subjects: Subjects) -> Plan:
    """The fact expects the network tree at ``tree_seq``: duplicate checks are race-free."""
    _owner_check(ctx, network)
    net_id, action, target = network["id"], req["action"], req["target_tenant"]
    _duplicate(policies_of(network, rows), action, target)
    if action == "access_as_shared" and target == WILDCARD:
        fact = Publication(subject=subjects.network(net_id), kind="network", aggregate_id=net_id,
                           event=NetworkUpdated(network_id=net_id, shared=True), step="share",
                           expect_seq=network_seq)
        return Plan(facts=(fact,), resource_id=wildcard_id(net_id))
    project = req.get("project_id") or req.get("tenant_id") or ctx.project_id
    ev = RbacPolicyCreated(policy_id=policy_id, project_id=project, object_id=net_id, action=action,
                           target_tenant=target)
    fact = Publication(subject=subject(subjects, net_id, policy_id), kind="rbac_policy", aggregate_id=policy_id,
                       event=ev, step="create", expect_seq=tree_seq, expect_subject=subjects.network_tree(net_id))
    return Plan(facts=(fact,), resource_id=policy_id)


def check_still_served(network: dict, port_projects: set[str], remaining: list[dict], *, removing: dict) -> None:
    """409 if a project with ports on the network would lose its access_as_shared grant."""
    if removing["action"] != "access_as_shared":
        return
    granted = {p["target_tenant"] for p in remaining if p["action"] == "access_as_shared"}
    losing = sorted(p for p in port_projects if p != network["project_id"] and WILDCARD not in granted
                    and p not in granted)
    if losing:
        raise Conflict(f"RBAC policy on object {network['id']} cannot be removed because other objects depend "
                       f"on it.\nDetails: Callback neutron.plugins.ml2.plugin.Ml2Plugin.validate_network_rbac_"
                       f"policy_change failed with \"Unable to reconfigure sharing settings for network "
                       f"{network['id']}. Multiple tenants are using it.\"", type="RbacPolicyInUse")


def _guarded(subjects: Subjects, net_id: str, mac_head: int) -> dict:
    return {"expect_seq": mac_head, "expect_subject": subjects.claims_mac_of_network(net_id)}


def decide_delete(ctx: RequestContext, policy: dict, *, network: dict, rows: list[dict], port_projects: set[str],
                  mac_head: int, subjects: Subjects) -> Plan:
    net_id = network["id"]
    remaining = [p for p in policies_of(network, rows) if p["id"] != policy["id"]]
    check_still_served(network, port_projects, remaining, removing=policy)
    if policy["id"] == wildcard_id(net_id):
        ev = NetworkUpdated(network_id=net_id, shared=False)
        sub, kind, step = subjects.network(net_id), "network", "unshare"
    else:
        ev = RbacPolicyDeleted(policy_id=policy["id"], object_id=net_id)
        sub, kind, step = subject(subjects, net_id, policy["id"]), "rbac_policy", "delete"
    fact = Publication(subject=sub, kind=kind, aggregate_id=policy["id"] if kind == "rbac_policy" else net_id,
                       event=ev, step=step, **_guarded(subjects, net_id, mac_head))
    return Plan(facts=(fact,), resource_id=policy["id"])


def decide_update(ctx: RequestContext, policy: dict, target: str, *, network: dict, rows: list[dict],
                  port_projects: set[str], mac_head: int, subjects: Subjects) -> Plan:
    """Only ``target_tenant`` changes; the old target must not be left without access."""
    net_id = network["id"]
    if target == policy["target_tenant"]:
        return Plan(resource_id=policy["id"])
    if policy["id"] == wildcard_id(net_id):
        raise BadRequest("The wildcard policy of a shared network is its 'shared' attribute; "
                         "update the network instead")
    policies = policies_of(network, rows)
    _duplicate(policies, policy["action"], target, skip=policy["id"])
    remaining = [p for p in policies if p["id"] != policy["id"]] + [{**policy, "target_tenant": target}]
    check_still_served(network, port_projects, remaining, removing=policy)
    ev = RbacPolicyUpdated(policy_id=policy["id"], object_id=net_id, target_tenant=target)
    fact = Publication(subject=subject(subjects, net_id, policy["id"]), kind="rbac_policy",
                       aggregate_id=policy["id"], event=ev, step="update", **_guarded(subjects, net_id, mac_head))
    return Plan(facts=(fact,), resource_id=policy["id"])


def check_unshare(network: dict, changes: dict, *, rows: list[dict], port_projects: set[str]) -> None:
    """A network update to shared=False is the wildcard policy's removal (Neutron's
    InvalidSharedSetting 409 if another project still uses the network)."""
    if changes.get("shared") is not False or not network.get("shared"):
        return
    remaining = [p for p in rows if p["id"] != wildcard_id(network["id"])]
    granted = {p["target_tenant"] for p in remaining if p["action"] == "access_as_shared"}
    if any(p != network["project_id"] and p not in granted and WILDCARD not in granted for p in port_projects):
        raise Conflict(f"Unable to reconfigure sharing settings for network {network['id']}. Multiple tenants "
                       "are using it.", type="InvalidSharedSetting")


def guard_unshare(plan: Plan, network: dict, changes: dict, *, mac_head: int, subjects: Subjects) -> Plan:
    """An unsharing network update expects the MAC claims (not the network subject),
    so a port created meanwhile by another project makes it decide again."""
    if changes.get("shared") is not False or not network.get("shared") or not plan.facts:
        return plan
    import msgspec

    facts = tuple(msgspec.structs.replace(f, **_guarded(subjects, network["id"], mac_head)) for f in plan.facts)
    return msgspec.structs.replace(plan, facts=facts)
