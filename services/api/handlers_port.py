"""HTTP handlers for /v2.0/ports."""

from __future__ import annotations

from aiohttp import web

from .attributes import PORT, validate_body
from .common import check_if_match, json_response, list_response, new_resource_id, read_json, show
from .deciders import port as decide
from .handlers_subnet import visible_network
from .writer import run_with_retries

ATTRS = frozenset(PORT)


def _svc(request):
    return request.app["svc"]


async def create(request: web.Request) -> web.Response:
    from .bulk import create_bulk

    ctx, svc = request["ctx"], _svc(request)
    body = await read_json(request)
    if isinstance(body, dict) and "ports" in body:
        return await create_bulk(request, "port", body)
    req = validate_body("port", body, create=True, is_admin=ctx.is_admin)
    port_id = new_resource_id(ctx, "port")
    if not ctx.idempotency_key or svc.reader.row("ports", port_id) is None:
        await run_with_retries(lambda: plan_create(svc, ctx, req, port_id), svc.writer, ctx)
    body, _ = svc.reader.get("port", port_id, None)
    return json_response({"port": body}, status=201)


def plan_create(svc, ctx, req, port_id):
    net, tree_seq = visible_network(svc, ctx, req["network_id"])
    return decide.decide_create(ctx, req, port_id=port_id, network=net, tree_seq=tree_seq,
                                subnets=svc.reader.subnets_of(net["id"]), claims=svc.claims, agents=svc.agents,
                                subjects=svc.subjects, rng=svc.rng, mac_base=svc.cfg.mac_base)


async def get(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    body, _ = svc.reader.get("port", request.match_info["id"], ctx.scope())
    return show(body, request, "port")


async def index(request: web.Request) -> web.Response:
    return list_response(request, _svc(request).reader, "port", "ports", ATTRS)


async def update(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    changes = validate_body("port", await read_json(request), create=False, is_admin=ctx.is_admin)
    pid = request.match_info["id"]

    def plan():
        cur, seq = svc.reader.get("port", pid, ctx.scope())
        check_if_match(request, cur)
        net, _ = svc.reader.get("network", cur["network_id"], None)
        return decide.decide_update(ctx, cur, seq, changes, network=net,
                                    subnets=svc.reader.subnets_of(net["id"]), claims=svc.claims,
                                    agents=svc.agents, subjects=svc.subjects, rng=svc.rng)

    await run_with_retries(plan, svc.writer, ctx)
    body, _ = svc.reader.get("port", pid, None)
    return json_response({"port": body})


async def delete(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    pid = request.match_info["id"]

    def plan():
        cur, seq = svc.reader.get("port", pid, ctx.scope())
        check_if_match(request, cur)
        return decide.decide_delete(ctx, cur, seq, claims=svc.claims, subjects=svc.subjects)

    await run_with_retries(plan, svc.writer, ctx)
    return web.Response(status=204)
