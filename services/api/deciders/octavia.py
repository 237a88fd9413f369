"""Deciders for load balancers (pure): (LB aggregate, request) -> one fact.

Every write to a load balancer's tree is one fact on the LB subject expecting the
subject's last sequence, decided against the whole aggregate, so uniqueness (one
listener per port, one member per address:port, one monitor per pool) and references
(default pools, redirect pools) are checked on the state the fact will follow. A load
balancer whose last change is not applied yet (PENDING_*) refuses writes with 409,
as Octavia does; the handler passes the provisioning status it derived.
"""

from __future__ import annotations

import msgspec

from netledger.errors import BadRequest, Conflict, NotFound
from netledger.libs.events import octavia as O
from netledger.libs.events.subjects import Subjects

from . import Plan, Publication

KINDS = {"listener": "Listener", "pool": "Pool", "member": "Member", "healthmonitor": "Health Monitor",
         "l7policy": "L7 Policy", "l7rule": "L7 Rule", "loadbalancer": "Load Balancer"}
FIELDS = {"listener": "listeners", "pool": "pools", "member": "members", "healthmonitor": "healthmonitors",
          "l7policy": "l7policies", "l7rule": "l7rules"}
SPECS = {"listener": O.ListenerSpec, "pool": O.PoolSpec, "member": O.MemberSpec,
         "healthmonitor": O.HealthMonitorSpec, "l7policy": O.L7PolicySpec, "l7rule": O.L7RuleSpec}
POOL_FOR_LISTENER = {"HTTP": ("HTTP", "PROXY"), "TCP": ("TCP", "PROXY")}


def not_found(kind: str, id: str) -> NotFound:
    return NotFound(f"{KINDS[kind]} {id} not found.")


def lb_pub(subjects: Subjects, lb_id: str, event, step: str, seq: int | None) -> Publication:
    return Publication(subject=subjects.aggregate("loadbalancer", lb_id), kind="loadbalancer", aggregate_id=lb_id,
                       event=event, step=step, expect_seq=seq)


def check_mutable(state: O.LbState, provisioning: str) -> None:
    """Octavia's ImmutableObject: no write while a change is being applied."""
    if provisioning.startswith("PENDING_"):
        raise Conflict(f"Load Balancer {state.lb.id} is immutable and cannot be updated.")


def find(state: O.LbState, kind: str, id: str):
    item = next((c for c in getattr(state, FIELDS[kind]) if c.id == id), None)
    if item is None:
        raise not_found(kind, id)
    return item


def _spec(kind: str, fields: dict):
    fields = dict(fields)
    if "session_persistence" in fields and fields["session_persistence"] is not None:
        fields["session_persistence"] = O.SessionPersistence(**fields["session_persistence"])
    names = SPECS[kind].__struct_fields__
    try:
        return SPECS[kind](**{k: v for k, v in fields.items() if k in names})
    except TypeError as exc:
        raise BadRequest(f"Invalid input: {exc}") from None


# --- per-kind checks (on the new spec against the state it joins) ---------------------

def _check_listener(s: O.LbState, li: O.ListenerSpec) -> None:
    for other in s.listeners:
        if other.id != li.id and other.protocol_port == li.protocol_port:
            raise Conflict(f"Another Listener on this Load Balancer is already using protocol_port "
                           f"{li.protocol_port}")
    if li.default_pool_id:
        pool = find(s, "pool", li.default_pool_id)
        if pool.protocol not in POOL_FOR_LISTENER[li.protocol]:
            raise BadRequest(f"Validation failure: The pool protocol '{pool.protocol}' is invalid while the "
                             f"listener protocol is '{li.protocol}'.")
    if li.allowed_cidrs and any(":" in c for c in li.allowed_cidrs) and "." in s.lb.vip_address:
        raise BadRequest("Validation failure: CIDR IP version incompatible with VIP IP version.")


def _check_pool(s: O.LbState, pool: O.PoolSpec, *, creating: bool) -> None:
    if creating and pool.listener_id:
        li = find(s, "listener", pool.listener_id)
        if li.default_pool_id:
            raise Conflict(f"Listener {li.id} is already using Pool {li.default_pool_id}.")
        if pool.protocol not in POOL_FOR_LISTENER[li.protocol]:
            raise BadRequest(f"Validation failure: The pool protocol '{pool.protocol}' is invalid while the "
                             f"listener protocol is '{li.protocol}'.")
    sp = pool.session_persistence
    if sp and sp.type in ("HTTP_COOKIE", "APP_COOKIE") and pool.protocol != "HTTP":
        raise BadRequest(f"Validation failure: Session persistence type {sp.type} is only valid for HTTP pools.")


def _check_member(s: O.LbState, m: O.MemberSpec) -> None:
    for other in s.members:
        if other.pool_id == m.pool_id and other.id != m.id and (other.address, other.protocol_port) == (
                m.address, m.protocol_port):
            raise Conflict(f"Another member on this pool is already using ip address {m.address} on "
                           f"protocol_port {m.protocol_port}")


def _check_hm(s: O.LbState, hm: O.HealthMonitorSpec) -> None:
    find(s, "pool", hm.pool_id)
    if any(h.pool_id == hm.pool_id and h.id != hm.id for h in s.healthmonitors):
        raise Conflict(f"Pool {hm.pool_id} already has a health monitor")
    if hm.timeout > hm.delay:
        raise BadRequest("Validation failure: The timeout must be less than or equal to the delay.")


def _check_policy(s: O.LbState, p: O.L7PolicySpec) -> None:
    li = find(s, "listener", p.listener_id)
    if li.protocol != "HTTP":
        raise BadRequest(f"Validation failure: L7 policies are only valid on HTTP listeners, not {li.protocol}.")
    if p.action == "REDIRECT_TO_POOL":
        if not p.redirect_pool_id:
            raise BadRequest("Validation failure: redirect_pool_id is required for action REDIRECT_TO_POOL.")
        find(s, "pool", p.redirect_pool_id)
    if p.action == "REDIRECT_TO_URL" and not p.redirect_url:
        raise BadRequest("Validation failure: redirect_url is required for action REDIRECT_TO_URL.")


def _check_rule(s: O.LbState, r: O.L7RuleSpec) -> None:
    if r.type in ("HEADER", "COOKIE") and not r.key:
        raise BadRequest(f"Validation failure: key is required for rule type {r.type}.")
    if r.type == "HOST_NAME" and r.compare_type == "REGEX" and not r.value:
        raise BadRequest("Validation failure: value must not be empty.")


def _normalise(kind: str, s: O.LbState, item):
    """Fill what depends on other objects (Octavia's defaults)."""
    R = msgspec.structs.replace
    if kind == "l7policy":
        item = R(item, redirect_pool_id=item.redirect_pool_id if item.action == "REDIRECT_TO_POOL" else "",
                 redirect_url=item.redirect_url if item.action == "REDIRECT_TO_URL" else "")
    return item


CHECKS = {"listener": lambda s, x, c: _check_listener(s, x), "pool": lambda s, x, c: _check_pool(s, x, creating=c),
          "member": lambda s, x, c: _check_member(s, x), "healthmonitor": lambda s, x, c: _check_hm(s, x),
          "l7policy": lambda s, x, c: _check_policy(s, x), "l7rule": lambda s, x, c: _check_rule(s, x)}


def set_event(kind: str, lb_id: str, item):
    match kind:
        case "listener":
            return O.ListenerSet(lb_id=lb_id, listener=item)
        case "pool":
            return O.PoolSet(lb_id=lb_id, pool=item)
        case "member":
            return O.MembersSet(lb_id=lb_id, members=(item,))
        case "healthmonitor":
            return O.HealthMonitorSet(lb_id=lb_id, healthmonitor=item)
        case "l7policy":
            return O.L7PolicySet(lb_id=lb_id, l7policy=item)
    return O.L7RuleSet(lb_id=lb_id, l7rule=item)


def delete_event(kind: str, lb_id: str, id: str):
    match kind:
        case "listener":
            return O.ListenerDeleted(lb_id=lb_id, listener_id=id)
        case "pool":
            return O.PoolDeleted(lb_id=lb_id, pool_id=id)
        case "member":
            return O.MembersDeleted(lb_id=lb_id, member_ids=(id,))
        case "healthmonitor":
            return O.HealthMonitorDeleted(lb_id=lb_id, healthmonitor_id=id)
        case "l7policy":
            return O.L7PolicyDeleted(lb_id=lb_id, l7policy_id=id)
    return O.L7RuleDeleted(lb_id=lb_id, l7rule_id=id)


# --- decisions --------------------------------------------------------------------

def decide_child_create(kind: str, s: O.LbState, seq: int, fields: dict, *, new_id: str, provisioning: str,
                        subjects: Subjects) -> Plan:
    """``fields`` come validated (octavia_attrs) plus the parent ids the URL named."""
    check_mutable(s, provisioning)
    fields = {**fields, "id": new_id, "project_id": fields.get("project_id") or s.lb.project_id}
    if kind == "l7policy" and "position" not in fields:
        fields["position"] = 1 + sum(1 for p in s.l7policies if p.listener_id == fields["listener_id"])
    item = _normalise(kind, s, _spec(kind, fields))
    CHECKS[kind](s, item, True)
    return Plan(facts=(lb_pub(subjects, s.lb.id, set_event(kind, s.lb.id, item), f"{kind}-create", seq),),
                resource_id=new_id)


def decide_child_update(kind: str, s: O.LbState, seq: int, id: str, changes: dict, *, provisioning: str,
                        subjects: Subjects) -> Plan:
    cur = find(s, kind, id)
    check_mutable(s, provisioning)
    if "session_persistence" in changes and changes["session_persistence"] is not None:
        changes = {**changes, "session_persistence": O.SessionPersistence(**changes["session_persistence"])}
    item = _normalise(kind, s, msgspec.structs.replace(cur, **changes))
    if item == cur:
        return Plan(resource_id=id)
    CHECKS[kind](s, item, False)
    return Plan(facts=(lb_pub(subjects, s.lb.id, set_event(kind, s.lb.id, item), f"{kind}-update", seq),),
                resource_id=id)


def decide_child_delete(kind: str, s: O.LbState, seq: int, id: str, *, provisioning: str,
                        subjects: Subjects) -> Plan:
    find(s, kind, id)
    check_mutable(s, provisioning)
    if kind == "pool" and any(p.redirect_pool_id == id for p in s.l7policies):
        raise Conflict(f"Pool {id} is in use by an L7 policy and cannot be deleted.")
    return Plan(facts=(lb_pub(subjects, s.lb.id, delete_event(kind, s.lb.id, id), f"{kind}-delete", seq),),
                resource_id=id)


def decide_members_batch(s: O.LbState, seq: int, pool_id: str, wanted: list[dict], *, new_ids: list[str],
                         provisioning: str, subjects: Subjects) -> Plan:
    """PUT /pools/{id}/members: members matched by (address, protocol_port) are updated,
    new ones created, the rest deleted; one MembersReplaced fact."""
    find(s, "pool", pool_id)
    check_mutable(s, provisioning)
    current = {(m.address, m.protocol_port): m for m in s.members if m.pool_id == pool_id}
    out, seen = [], set()
    for fields, new_id in zip(wanted, new_ids):
        key = (fields["address"], fields["protocol_port"])
        if key in seen:
            raise BadRequest(f"Duplicate member {key[0]}:{key[1]} in the batch.")
        seen.add(key)
        cur = current.get(key)
        base = cur or _spec("member", {"id": new_id, "pool_id": pool_id, "project_id": s.lb.project_id,
                                       "address": key[0], "protocol_port": key[1]})
        out.append(msgspec.structs.replace(base, **{k: v for k, v in fields.items() if k in O.MemberSpec.__struct_fields__
                                                    and k not in ("id", "pool_id")}))
    if tuple(out) == tuple(current.values()) and len(out) == len(current):
        return Plan(resource_id=pool_id)
    ev = O.MembersReplaced(lb_id=s.lb.id, pool_id=pool_id, members=tuple(out))
    return Plan(facts=(lb_pub(subjects, s.lb.id, ev, "members-batch", seq),), resource_id=pool_id)


def decide_lb_update(s: O.LbState, seq: int, changes: dict, *, provisioning: str, subjects: Subjects) -> Plan:
    check_mutable(s, provisioning)
    fields = {k: v for k, v in changes.items() if k in ("name", "description", "admin_state_up", "tags")
              and getattr(s.lb, k) != v}
    if not fields:
        return Plan(resource_id=s.lb.id)
    ev = O.LoadBalancerUpdated(lb_id=s.lb.id, **fields)
    return Plan(facts=(lb_pub(subjects, s.lb.id, ev, "lb-update", seq),), resource_id=s.lb.id)


def decide_lb_create(fields: dict, *, lb_id: str, project_id: str, vip_port, subjects: Subjects) -> Plan:
    """``vip_port`` is the decided (or given) VIP PortCreated event's data."""
    ip = vip_port.fixed_ips[0]
    spec = O.LoadBalancerSpec(
        id=lb_id, project_id=project_id, name=fields.get("name", ""), description=fields.get("description", ""),
        admin_state_up=fields.get("admin_state_up", True), vip_port_id=vip_port.port_id,
        vip_address=ip.ip_address, vip_subnet_id=ip.subnet_id, vip_network_id=vip_port.network_id,
        tags=fields.get("tags", ()))
    return Plan(facts=(lb_pub(subjects, lb_id, O.LoadBalancerCreated(loadbalancer=spec), "lb-create", 0),),
                resource_id=lb_id)


def decide_lb_delete(s: O.LbState, seq: int, *, cascade: bool, provisioning: str, subjects: Subjects,
                     owns_vip: bool) -> Plan:
    check_mutable(s, provisioning)
    if not cascade and (s.listeners or s.pools):
        raise BadRequest(f"Cannot delete Load Balancer {s.lb.id} - it has children")
    ev = O.LoadBalancerDeleted(lb_id=s.lb.id, vip_port_id=s.lb.vip_port_id if owns_vip else "", cascade=cascade)
    return Plan(facts=(lb_pub(subjects, s.lb.id, ev, "lb-delete", seq),), resource_id=s.lb.id)
