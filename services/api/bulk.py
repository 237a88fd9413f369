"""Bulk create (``{"ports": [...]}``): all-or-nothing, as Neutron promises.

Each item is decided like a single create (claims are won one by one and owned by the
item's id); the facts of all items are then published as one atomic batch, so either
every resource exists afterwards or none does. Claims of a failed bulk are released.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from netledger.errors import BadRequest
from netledger.libs.bus import BusUnavailable, WrongLastSequence
from netledger.libs.events.envelope import wrap

from .attributes import validate_body
from .common import json_response, new_resource_id
from .deciders import Plan
from .writer import Retry

MAX_BULK = 500


def _planner(kind: str):
    from . import handlers_network, handlers_port, handlers_subnet

    return {"network": handlers_network.plan_create, "subnet": handlers_subnet.plan_create,
            "port": handlers_port.plan_create}[kind]


async def create_bulk(request: web.Request, kind: str, body: dict) -> web.Response:
    ctx, svc = request["ctx"], request.app["svc"]
    items = body.get(f"{kind}s")
    if not isinstance(items, list) or not items or len(body) != 1:
        raise BadRequest(f"Bulk request body must be {{'{kind}s': [ ... ]}} with at least one item")
    if len(items) > MAX_BULK:
        raise BadRequest(f"At most {MAX_BULK} {kind}s per bulk request")
    reqs = [validate_body(kind, {kind: item}, create=True, is_admin=ctx.is_admin) for item in items]
    ids = [new_resource_id(ctx, kind, i) for i in range(len(reqs))]
    if all(svc.reader.row(f"{kind}s_v", i) is not None for i in ids):
        return _respond(svc, kind, ids)
    plan_create = _planner(kind)
    for attempt in range(8):
        plans = [plan_create(svc, ctx, req, rid) for req, rid in zip(reqs, ids)]
        try:
            await _execute(svc, ctx, plans)
            return _respond(svc, kind, ids)
        except Retry as exc:
            await asyncio.sleep(0)
            try:
                await svc.position.wait_for(exc.seq, timeout=2.0)
            except Exception:
                pass
    raise BadRequest("Bulk create could not be applied consistently; please retry.")


async def _execute(svc, ctx, plans: list[Plan]) -> None:
    writer = svc.writer
    await writer.execute(ctx, Plan(claims=tuple(c for p in plans for c in p.claims)))
    items = []
    for i, plan in enumerate(plans):
        for pub in plan.facts:
            env = wrap(pub.event, kind=pub.kind, aggregate_id=pub.aggregate_id, request_id=ctx.request_id,
                       actor=ctx.actor)
            items.append((pub.subject, env, ctx.msg_id(f"bulk-{i}-{pub.step}"), pub.expect_seq, pub.expect_subject))
    # Items of one bulk on the same network share its tree expectation: only the first
    # may carry it (the others would see the first's sequence), which still guards all.
    seen = set()
    for n, (subject, env, msg_id, seq, exp_subject) in enumerate(items):
        key = exp_subject or subject
        if exp_subject and key in seen:
            items[n] = (subject, env, msg_id, None, None)
        seen.add(key)
    try:
        seq = await svc.bus.publish_batch(items)
    except WrongLastSequence as exc:
        raise Retry(exc.current, plans[0].facts[0]) from exc
    except BusUnavailable as exc:
        from netledger.errors import ServiceUnavailable

        raise ServiceUnavailable("The event bus is unavailable; please retry.") from exc
    await svc.position.wait_for(seq)


def _respond(svc, kind: str, ids: list[str]) -> web.Response:
    bodies = [svc.reader.get(kind, i, None)[0] for i in ids]
    return json_response({f"{kind}s": bodies}, status=201)
