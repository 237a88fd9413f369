"""Fold of load balancer facts and LB worker reports (pure, replay-identical).

The aggregate is kept whole: ``loadbalancers.state`` is the msgspec JSON of
:class:`LbState` after every fact (``fold_state`` is the one place that knows how a
fact changes it, so the API's deciders and the fold can never disagree).
``lb_children`` indexes child id -> load balancer for the API's lookups; it is
rewritten from the new state on every fact. Every config fact bumps ``revision``;
``LoadBalancerScheduled`` moves only ``host`` and ``seq``.
"""

from __future__ import annotations

import msgspec

from netledger.libs.events import octavia as O
from netledger.libs.events.envelope import Envelope

from . import Delete, Put, Reader, Write

SCHEMA = {
    "loadbalancers": ({"id": str, "project_id": str, "host": str, "vip_port_id": str, "revision": int,
                       "state": str, "seq": int}, ["id"]),
    "lb_children": ({"id": str, "lb_id": str, "kind": str, "project_id": str}, ["id"]),
    "lb_status": ({"lb_id": str, "host": str, "revision": int, "provisioning": str, "operating": str,
                   "detail": str, "time": str, "seq": int}, ["lb_id"]),
}
INDEXES = {"loadbalancers": [["host"], ["project_id"], ["vip_port_id"]], "lb_children": [["lb_id"], ["kind"]]}

_enc = msgspec.json.Encoder()
_dec_state = msgspec.json.Decoder(O.LbState)
CHILD_FIELDS = {"listener": "listeners", "pool": "pools", "member": "members", "healthmonitor": "healthmonitors",
                "l7policy": "l7policies", "l7rule": "l7rules"}


def decode_state(raw: str | bytes) -> O.LbState:
    return _dec_state.decode(raw)


def _stamp(item, old, time: str, rev: int):
    created = old.stamp.created_at if old is not None else time
    return msgspec.structs.replace(item, stamp=O.Stamp(created_at=created, updated_at=time, rev=rev))


def _upsert(items: tuple, new: tuple, time: str, rev: int) -> tuple:
    """Replace items by id (keeping their position and created_at), append new ones."""
    by_id = {i.id: i for i in items}
    fresh = {n.id: _stamp(n, by_id.get(n.id), time, rev) for n in new}
    out = [fresh.pop(i.id, i) for i in items]
    return tuple(out + [fresh[n.id] for n in new if n.id in fresh])


def _drop(items: tuple, ids: set[str]) -> tuple:
    return tuple(i for i in items if i.id not in ids)


def _drop_pool(s: O.LbState, pool_id: str) -> O.LbState:
    return msgspec.structs.replace(
        s, pools=_drop(s.pools, {pool_id}), members=tuple(m for m in s.members if m.pool_id != pool_id),
        healthmonitors=tuple(h for h in s.healthmonitors if h.pool_id != pool_id),
        listeners=tuple(msgspec.structs.replace(li, default_pool_id="") if li.default_pool_id == pool_id else li
                        for li in s.listeners))


def _drop_listener(s: O.LbState, listener_id: str) -> O.LbState:
    gone = {p.id for p in s.l7policies if p.listener_id == listener_id}
    return msgspec.structs.replace(
        s, listeners=_drop(s.listeners, {listener_id}), l7policies=_drop(s.l7policies, gone),
        l7rules=tuple(r for r in s.l7rules if r.policy_id not in gone),
        pools=tuple(msgspec.structs.replace(p, listener_id="") if p.listener_id == listener_id else p
                    for p in s.pools))


def _child_change(s: O.LbState, ev, time: str, rev: int) -> O.LbState:
    R = msgspec.structs.replace
    match ev:
        case O.ListenerSet():
            return R(s, listeners=_upsert(s.listeners, (ev.listener,), time, rev))
        case O.ListenerDeleted():
            return _drop_listener(s, ev.listener_id)
        case O.PoolSet():
            # Octavia: a pool created for a listener becomes its default pool.
            li = ev.pool.listener_id
            listeners = tuple(R(x, default_pool_id=ev.pool.id, stamp=R(x.stamp, updated_at=time, rev=rev))
                              if x.id == li and not x.default_pool_id else x for x in s.listeners)
            return R(s, pools=_upsert(s.pools, (ev.pool,), time, rev), listeners=listeners)
        case O.PoolDeleted():
            return _drop_pool(s, ev.pool_id)
        case O.MembersSet():
            return R(s, members=_upsert(s.members, ev.members, time, rev))
        case O.MembersReplaced():
            keep = {m.id for m in ev.members}
            kept = tuple(m for m in s.members if m.pool_id != ev.pool_id or m.id in keep)
            return R(s, members=_upsert(kept, ev.members, time, rev))
        case O.MembersDeleted():
            return R(s, members=_drop(s.members, set(ev.member_ids)))
        case O.HealthMonitorSet():
            return R(s, healthmonitors=_upsert(s.healthmonitors, (ev.healthmonitor,), time, rev))
        case O.HealthMonitorDeleted():
            return R(s, healthmonitors=_drop(s.healthmonitors, {ev.healthmonitor_id}))
        case O.L7PolicySet():
            return R(s, l7policies=_upsert(s.l7policies, (ev.l7policy,), time, rev))
        case O.L7PolicyDeleted():
            return R(s, l7policies=_drop(s.l7policies, {ev.l7policy_id}),
                     l7rules=tuple(r for r in s.l7rules if r.policy_id != ev.l7policy_id))
        case O.L7RuleSet():
            return R(s, l7rules=_upsert(s.l7rules, (ev.l7rule,), time, rev))
        case O.L7RuleDeleted():
            return R(s, l7rules=_drop(s.l7rules, {ev.l7rule_id}))
    return s


def fold_state(state: O.LbState | None, ev, time: str) -> O.LbState | None:
    """The aggregate after one fact (None: deleted). Pure; unknown facts change nothing."""
    R = msgspec.structs.replace
    if isinstance(ev, O.LoadBalancerCreated):
        lb = R(ev.loadbalancer, stamp=O.Stamp(created_at=time, updated_at=time, rev=1))
        return O.LbState(lb=lb, revision=1)
    if state is None or isinstance(ev, O.LoadBalancerDeleted):
        return None
    if isinstance(ev, O.LoadBalancerScheduled):
        return R(state, host=ev.host)
    rev = state.revision + 1
    if isinstance(ev, O.LoadBalancerUpdated):
        fields = {f: getattr(ev, f) for f in ("name", "description", "admin_state_up", "tags")
                  if getattr(ev, f) is not msgspec.UNSET}
        lb = R(state.lb, **fields, stamp=R(state.lb.stamp, updated_at=time, rev=rev))
        return R(state, lb=lb, revision=rev)
    return R(_child_change(state, ev, time, rev), revision=rev)


def children(state: O.LbState) -> list[tuple[str, str]]:
    """(kind, id) of every child, for the lookup index."""
    return [(kind, c.id) for kind, attr in CHILD_FIELDS.items() for c in getattr(state, attr)]


def evolve_loadbalancer(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    cur = read("loadbalancers", env.aggregate_id)
    state = decode_state(cur["state"]) if cur else None
    if state is None and not isinstance(ev, O.LoadBalancerCreated):
        return []
    new = fold_state(state, ev, env.time)
    writes: list[Write] = [Delete(table="lb_children", key={"lb_id": env.aggregate_id})]
    if new is None:
        return writes + [Delete(table="loadbalancers", key={"id": env.aggregate_id}),
                         Delete(table="lb_status", key={"lb_id": env.aggregate_id})]
    lb = new.lb
    writes.append(Put(table="loadbalancers", row={
        "id": lb.id, "project_id": lb.project_id, "host": new.host, "vip_port_id": lb.vip_port_id,
        "revision": new.revision, "state": _enc.encode(new).decode(), "seq": seq}))
    writes += [Put(table="lb_children", row={"id": cid, "lb_id": lb.id, "kind": kind, "project_id": lb.project_id})
               for kind, cid in children(new)]
    return writes


def evolve_lb_status(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    if not isinstance(ev, O.LoadBalancerStatusReported):
        return []
    operating = {o.id: o.status for o in ev.operating}
    return [Put(table="lb_status", row={
        "lb_id": ev.lb_id, "host": ev.host, "revision": ev.revision, "provisioning": ev.provisioning,
        "operating": _enc.encode(operating).decode(), "detail": ev.detail, "time": env.time, "seq": seq})]


FOLDS = {"loadbalancer": evolve_loadbalancer}
STATUS_FOLDS = (evolve_lb_status,)
