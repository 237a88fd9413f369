"""HTTP handlers for /v2.0/subnets."""

from __future__ import annotations

from aiohttp import web


from ..attributes import SUBNET, validate_body
from netledger.services.dhcp import schedule_loop as dhcp_hooks

from .common import (may, check_if_match, delete_idempotently, list_response, new_resource_id, read_json, respond,
                     show)
from ..commands import subnet as commands
from ..deciders import subnet as decide
from .. import store_quota
from ..writer import run_with_retries

ATTRS = frozenset(SUBNET)


def _svc(request):
    return request.app["svc"]


async def create(request: web.Request) -> web.Response:
    from .bulk import create_bulk

    ctx, svc = request["ctx"], _svc(request)
    body = await read_json(request)
    if isinstance(body, dict) and "subnets" in body:
        return await create_bulk(request, "subnet", body)
    req = validate_body("subnet", body, create=True, may=may(request))
    subnet_id = new_resource_id(ctx, "subnet")
    if not ctx.idempotency_key or svc.reader.row("subnets", subnet_id) is None:
        async with store_quota.reserved_for(svc, ctx, "subnet", [req], [subnet_id]):
            await run_with_retries(lambda: commands.plan_create(svc, ctx, req, subnet_id), svc.writer, ctx)
    body, _ = svc.reader.get("subnet", subnet_id, None)
    return respond(request, "subnet", body, status=201)


async def get(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    body, _ = svc.reader.get("subnet", request.match_info["id"], ctx.scope())
    return show(body, request, "subnet")


async def index(request: web.Request) -> web.Response:
    return list_response(request, _svc(request).reader, "subnet", "subnets", ATTRS)


async def update(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    changes = validate_body("subnet", await read_json(request), create=False, may=may(request))
    sid = request.match_info["id"]

    def plan():
        cur, seq = svc.reader.get("subnet", sid, ctx.scope())
        check_if_match(request, cur)
        return decide.decide_update(ctx, cur, seq, changes, subjects=svc.subjects)

    await run_with_retries(plan, svc.writer, ctx)
    body, _ = svc.reader.get("subnet", sid, None)
    return respond(request, "subnet", body)


async def delete(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    sid = request.match_info["id"]
    await dhcp_hooks.before_subnet_delete(svc, ctx, sid)     # Neutron deletes network:dhcp ports itself

    def plan():
        cur, _ = svc.reader.get("subnet", sid, ctx.scope())
        check_if_match(request, cur)
        return decide.decide_delete(ctx, cur, claims_head=svc.reader.ip_claims_head(sid),
                                    held=svc.reader.count_held_ips(sid), subjects=svc.subjects)

    response = await delete_idempotently(request, lambda: run_with_retries(plan, svc.writer, ctx),
                                         lambda i: svc.subjects.subnet("*", i))
    await store_quota.release_of(svc, ctx, "subnet", {sid})
    return response
