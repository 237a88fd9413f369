"""Quota I/O: limits and usage read from the projection, slot claims on JetStream.

``reserved(...)`` wraps a create: it claims one usage slot per new resource before
the create's own claims and facts, keeps them if the create succeeds and releases
them if it fails. A lost slot race (another creator took the slot first, possibly
through another API process) waits for the projection to show the winner and picks
again, so the limit holds under any concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from datetime import datetime, timezone

import structlog

from netledger.errors import Conflict, ServiceUnavailable
from netledger.libs.bus import BusUnavailable, WrongLastSequence
from netledger.libs.events.envelope import wrap

from .deciders import Publication
from .deciders import quota as decide

log = structlog.get_logger("api.quota")

ATTEMPTS = 40
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


async def _publish(svc, ctx, pub: Publication) -> int:
    env = wrap(pub.event, kind=pub.kind, aggregate_id=pub.aggregate_id, request_id=ctx.request_id, actor=ctx.actor)
    try:
        # No message id: the sequence check already makes a slot claim exactly-once.
        return await svc.bus.publish(pub.subject, env, expect_seq=pub.expect_seq)
    except BusUnavailable as exc:
        raise ServiceUnavailable("The event bus is unavailable; please retry.") from exc


async def reserve(svc, ctx, project: str, resource: str, owners: list[str]) -> list[tuple[Publication, int]]:
    """Hold one slot per owner, or raise OverQuota (409) holding none of them.
    Returns the claims won (with their sequences), for ``release_won``."""
    won: list[tuple[Publication, int]] = []
    try:
        await _reserve(svc, ctx, project, resource, owners, won)
    except BaseException:
        await release_won(svc, ctx, won)  # a bulk's partial wins
        raise
    return won


async def _reserve(svc, ctx, project: str, resource: str, owners: list[str], won: list) -> None:
    conn, limit = svc.reader.conn, limits(svc, project)[resource]
    if limit == decide.UNLIMITED:
        return  # nothing to enforce; usage is counted from what exists
    for attempt in range(ATTEMPTS):
        current = slots(conn, project, resource)
        held_by = {s.owner for s in current.values() if s.held}
        live = alive(conn, resource, held_by)
        mine = {p.event.owner for p, _ in won}
        pubs = decide.choose_slots(prefix=svc.subjects.prefix, project=project, resource=resource,
                                   owners=[o for o in owners if o not in mine], limit=limit, slots=current,
                                   alive=live, grace=GRACE_SECONDS, rng=svc.rng,
                                   unslotted=used(conn, project, resource) - len(live))
        if not pubs:
            return
        results = await asyncio.gather(*(_publish(svc, ctx, p) for p in pubs), return_exceptions=True)
        won.extend((p, r) for p, r in zip(pubs, results) if isinstance(r, int))
        errors = [r for r in results if isinstance(r, BaseException)]
        hard = [e for e in errors if not isinstance(e, WrongLastSequence)]
        if hard:
            raise hard[0]
        if not errors:
            return  # no projection wait: the create's own write waits for everything
        top = max([seq for _, seq in won] + [e.current for e in errors])
        log.info("quota slot race lost; choosing again", resource=resource, attempt=attempt)
        await svc.position.wait_for(top)
    raise Conflict("Too many concurrent modifications; please retry.", type="Conflict")


async def _release(svc, ctx, pubs: list[Publication]) -> None:
    results = await asyncio.gather(*(_publish(svc, ctx, p) for p in pubs), return_exceptions=True)
    for pub, res in zip(pubs, results):
        if isinstance(res, BaseException):
            log.info("quota release skipped", subject=pub.subject, error=repr(res))


async def release_won(svc, ctx, won: list[tuple[Publication, int]]) -> None:
    """Give back claims this request won (best effort: the grace time covers losses)."""
    await _release(svc, ctx, [decide.release_of(pub, seq) for pub, seq in won])


async def release(svc, ctx, project: str, resource: str, owners: set[str]) -> None:
    """Free the slots these owners hold, as the projection shows them."""
    await _release(svc, ctx, decide.release_slots(prefix=svc.subjects.prefix, project=project, resource=resource,
                                                  owners=owners, slots=slots(svc.reader.conn, project, resource)))


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
