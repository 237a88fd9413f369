"""Port commands: load what a port decision needs, call the pure decider.

The snapshot is the network (with its tree sequence), its subnets, the claims the
decision consults (read on demand through ``decide_with_claims``) and the L2 agents
alive on the port's host at this moment. The decider itself sees none of the I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from netledger.errors import Forbidden

from ..deciders import Plan
from ..deciders import port as decide
from .network_access import visible_network


def sg_known(svc, ctx, named) -> Callable[[str], bool]:
    """Which of the groups a request names the port may use, read now: they exist and
    (Neutron's _get_security_groups_on_port) belong to the caller's project unless the
    caller is an admin. The decider gets a lookup over this snapshot, never the store."""
    def usable(group: str) -> bool:
        row = svc.reader.row("security_groups", group)
        return row is not None and (ctx.is_admin or row["project_id"] == ctx.project_id)
    return frozenset(g for g in (named or ()) if usable(g)).__contains__


def _live(svc, host: str) -> list[dict]:
    return svc.agents.live_on(host, datetime.now(timezone.utc))


def plan_create(svc, ctx, req: dict, port_id: str, won=None) -> Plan:
    net, tree_seq = visible_network(svc, ctx, req["network_id"])
    check_network_owner_attrs(ctx, net, req)
    subnets, live = svc.reader.subnets_of(net["id"]), _live(svc, req.get("binding:host_id", ""))
    known = sg_known(svc, ctx, req.get("security_groups"))
    return svc.claims.decide_with_claims(lambda snap: decide.decide_create(
        ctx, req, port_id=port_id, network=net, tree_seq=tree_seq, subnets=subnets, claims=snap,
        live_agents=live, subjects=svc.subjects, mac_base=svc.cfg.mac_base, won=won, sg_known=known), svc.rng)


def plan_update(svc, ctx, cur: dict, seq: int, changes: dict, won=None, *, check_groups: bool = True) -> Plan:
    net, _ = svc.reader.get("network", cur["network_id"], None)
    subnets = svc.reader.subnets_of(net["id"])
    live = _live(svc, changes.get("binding:host_id", cur.get("binding:host_id", "")))
    known = sg_known(svc, ctx, changes.get("security_groups")) if check_groups else None
    return svc.claims.decide_with_claims(lambda snap: decide.decide_update(
        ctx, cur, seq, changes, network=net, subnets=subnets, claims=snap, live_agents=live,
        subjects=svc.subjects, won=won, sg_known=known), svc.rng)


def plan_delete(svc, ctx, cur: dict, seq: int) -> Plan:
    return svc.claims.decide_with_claims(
        lambda snap: decide.decide_delete(ctx, cur, seq, claims=snap, subjects=svc.subjects), svc.rng)


def check_network_owner_attrs(ctx, net: dict, req: dict) -> None:
    """Neutron's policy: on someone else's (shared) network only its owner or an admin
    may pick the MAC, the addresses or a network:* device owner (403)."""
    if ctx.is_admin or net["project_id"] == ctx.project_id:
        return
    wanted = [a for a in ("mac_address",) if req.get(a)]
    if any(isinstance(f, dict) and "ip_address" in f for f in req.get("fixed_ips") or ()):
        wanted.append("fixed_ips:ip_address")
    if str(req.get("device_owner", "")).startswith("network:"):
        wanted.append("device_owner")
    if wanted:
        raise Forbidden(f"(rule:create_port:{wanted[0]}) is disallowed by policy", type="PolicyNotAuthorized")


async def ensure_default_group(svc, ctx, reqs: list[dict]) -> None:
    """Ports that will get their project's default group need it to exist first."""
    from .security_group import ensure_default

    for project in sorted({r.get("project_id") or r.get("tenant_id") or ctx.project_id for r in reqs
                           if "security_groups" not in r and r.get("port_security_enabled", True)
                           and not str(r.get("device_owner", "")).startswith("network:")}):
        await ensure_default(svc, ctx, project, wait=False)
