"""Quota I/O: limits and usage read from the projection, slot claims on JetStream.

``reserved(...)`` wraps a create: it claims one usage slot per new resource before
the create's own claims and facts, keeps them if the create succeeds and releases
them if it fails. A lost slot race (another creator took the slot first, possibly
through another API process) waits for the projection to show the winner and picks
again, so the limit holds under any concurrency.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from datetime import datetime, timezone

from .deciders import Plan
from .deciders import quota as decide
from .deciders.claims import Ledger
from .writer import run_with_retries

GRACE_SECONDS = 120.0
TABLES = {"network": "networks", "subnet": "subnets", "port": "ports", "router": "routers",
          "floatingip": "floatingips", "security_group": "security_groups",
          "security_group_rule": "security_group_rules", "rbac_policy": "rbac_policies"}


def defaults(cfg) -> dict[str, int]:
    return {r: int(getattr(cfg, f"quota_{r}")) for r in decide.RESOURCES}


def overrides(conn: sqlite3.Connection, project: str) -> dict[str, int]:
    rows = conn.execute("SELECT resource, hard_limit FROM quota_limits WHERE project_id = ?", [project])
    return {r[0]: r[1] for r in rows}


def limits(svc, project: str) -> dict[str, int]:
    return decide.effective_limits(defaults(svc.cfg), overrides(svc.reader.conn, project))


def projects_with_limits(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT DISTINCT project_id FROM quota_limits ORDER BY project_id")]


def _age(text: str, now: float) -> float:
    try:
        return now - datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()
    except ValueError:
        return 0.0


def slots(conn: sqlite3.Connection, project: str, resource: str) -> dict[int, decide.Slot]:
    now = time.time()
    rows = conn.execute("SELECT slot, owner, held, seq, time FROM quota_slots WHERE project_id = ? AND resource = ?",
                        [project, resource])
    return {r[0]: decide.Slot(owner=r[1], held=bool(r[2]), seq=r[3], age=_age(r[4], now)) for r in rows}


def alive(conn: sqlite3.Connection, resource: str, owners: set[str]) -> set[str]:
    """Owners that exist as resources (an unknown table: all count as alive)."""
    if not owners:
        return set()
    try:
        rows = conn.execute(f"SELECT id FROM {TABLES[resource]} WHERE id IN ({','.join('?' * len(owners))})",
                            list(owners))
    except (sqlite3.OperationalError, KeyError):
        return set(owners)
    return {r[0] for r in rows}


def used(conn: sqlite3.Connection, project: str, resource: str) -> int:
    """Resources that exist (families not implemented yet count 0)."""
    try:
        return conn.execute(f"SELECT count(*) FROM {TABLES[resource]} WHERE project_id = ?", [project]).fetchone()[0]
    except (sqlite3.OperationalError, KeyError):
        return 0


def reserved_count(conn: sqlite3.Connection, project: str, resource: str) -> int:
    """Slots held for resources that do not exist (yet): creates in flight."""
    held = {s.owner for s in slots(conn, project, resource).values() if s.held}
    return len(held - alive(conn, resource, held))


def _slot_plan(svc, ctx, project: str, resource: str, owners: list[str], limit: int, ledger: Ledger) -> Plan:
    """Read the slots, let the pure decider choose claims for owners not yet holding one."""
    conn = svc.reader.conn
    current = slots(conn, project, resource)
    live = alive(conn, resource, {s.owner for s in current.values() if s.held})
    mine = {w.pub.event.owner for w in ledger.won.values()}
    pubs = decide.choose_slots(prefix=svc.subjects.prefix, project=project, resource=resource,
                               owners=[o for o in owners if o not in mine], limit=limit, slots=current,
                               alive=live, grace=GRACE_SECONDS, rng=svc.rng,
                               unslotted=used(conn, project, resource) - len(live))
    return Plan(claims=tuple(pubs))


async def reserve(svc, ctx, project: str, resource: str, owners: list[str]) -> Ledger:
    """Hold one slot per owner, or raise OverQuota (409) holding none of them.
    Returns the slots won, for ``release_won``. Lost slot races go through the API's
    one write loop (writer.run_with_retries) like every other claim."""
    ledger = Ledger()
    limit = limits(svc, project)[resource]
    if limit == decide.UNLIMITED:
        return ledger  # nothing to enforce; usage is counted from what exists
    # No projection wait: the create's own write waits for everything.
    await run_with_retries(lambda: _slot_plan(svc, ctx, project, resource, owners, limit, ledger),
                           svc.writer, ctx, ledger=ledger, wait=False)
    return ledger


async def release_won(svc, ctx, won: Ledger) -> None:
    """Give back slots this request won (best effort: the grace time covers losses)."""
    if won.won:
        await svc.writer.release(ctx, won.releases())


async def release(svc, ctx, project: str, resource: str, owners: set[str]) -> None:
    """Free the slots these owners hold, as the projection shows them."""
    await svc.writer.release(ctx, decide.release_slots(prefix=svc.subjects.prefix, project=project,
                                                       resource=resource, owners=owners,
                                                       slots=slots(svc.reader.conn, project, resource)))


def charged_project(ctx, req: dict) -> str:
    return req.get("project_id") or req.get("tenant_id") or ctx.project_id


@contextlib.asynccontextmanager
async def reserved(svc, ctx, project: str, resource: str, owners: list[str]):
    """Slots held for the body of the ``async with``; released if it raises."""
    won = await reserve(svc, ctx, project, resource, owners)
    try:
        yield
    except BaseException:
        await release_won(svc, ctx, won)
        raise


async def release_of(svc, ctx, resource: str, owners: set[str]) -> None:
    """After deletes: free the slots of these owners, whichever project holds them."""
    if not owners:
        return
    rows = svc.reader.conn.execute(
        f"SELECT DISTINCT project_id FROM quota_slots WHERE resource = ? AND held = 1 "
        f"AND owner IN ({','.join('?' * len(owners))})", [resource, *owners])
    for (project,) in rows.fetchall():
        await release(svc, ctx, project, resource, owners)


@contextlib.asynccontextmanager
async def reserved_for(svc, ctx, resource: str, reqs: list[dict], ids: list[str]):
    """``reserved`` for a (bulk) create: one slot per new id, charged to each item's project."""
    by_project: dict[str, list[str]] = {}
    for req, rid in zip(reqs, ids):
        by_project.setdefault(charged_project(ctx, req), []).append(rid)
    async with contextlib.AsyncExitStack() as stack:
        for project, owners in sorted(by_project.items()):
            await stack.enter_async_context(reserved(svc, ctx, project, resource, owners))
        yield
