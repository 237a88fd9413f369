"""HTTP handlers for /v2.0/ports."""

from __future__ import annotations

from aiohttp import web

from netledger.errors import Conflict

from ..attributes import PORT, validate_body
from .common import (may, check_if_match, delete_idempotently, list_response, new_resource_id, read_json, respond,
                     show)
from ..commands import port as commands
from ..deciders.claims import Ledger
from .. import store_quota
from ..writer import run_with_retries

ATTRS = frozenset(PORT)
SERVICE_OWNERS = ("network:router_interface", "network:router_gateway", "network:floatingip",
                  "network:router_interface_distributed", "network:ha_router_replicated_interface")


def _svc(request):
    return request.app["svc"]


async def create(request: web.Request) -> web.Response:
    from .bulk import create_bulk

    ctx, svc = request["ctx"], _svc(request)
    body = await read_json(request)
    if isinstance(body, dict) and "ports" in body:
        return await create_bulk(request, "port", body)
    # Nova's service role binds ports (binding:host_id, binding:profile), as Neutron allows.
    req = validate_body("port", body, create=True, may=may(request))
    port_id = new_resource_id(ctx, "port")
    await commands.ensure_default_group(svc, ctx, [req])
    if not ctx.idempotency_key or svc.reader.row("ports", port_id) is None:
        ledger = Ledger()
        async with store_quota.reserved_for(svc, ctx, "port", [req], [port_id]):
            await run_with_retries(lambda: commands.plan_create(svc, ctx, req, port_id, ledger.won), svc.writer, ctx,
                                   ledger=ledger)
    body, _ = svc.reader.get("port", port_id, None)
    return respond(request, "port", body, status=201)


async def get(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    body, _ = svc.reader.get("port", request.match_info["id"], ctx.scope("port"))
    return show(body, request, "port")


async def index(request: web.Request) -> web.Response:
    return list_response(request, _svc(request).reader, "port", "ports", ATTRS)


async def update(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    changes = validate_body("port", await read_json(request), create=False, may=may(request))
    pid = request.match_info["id"]
    ledger = Ledger()

    def plan():
        cur, seq = svc.reader.get("port", pid, ctx.scope("port"))
        check_if_match(request, cur)
        return commands.plan_update(svc, ctx, cur, seq, changes, ledger.won)

    await run_with_retries(plan, svc.writer, ctx, ledger=ledger)
    body, _ = svc.reader.get("port", pid, None)
    return respond(request, "port", body)


async def delete(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    pid = request.match_info["id"]

    def plan():
        cur, seq = svc.reader.get("port", pid, ctx.scope())
        check_if_match(request, cur)
        if cur.get("device_owner") in SERVICE_OWNERS:
            # Routers and floating IPs own these ports: they go when their owner does.
            raise Conflict(f"Port {pid} cannot be deleted directly via the port API: has device owner "
                           f"{cur['device_owner']}.", type="ServicePortInUse")
        return commands.plan_delete(svc, ctx, cur, seq)

    response = await delete_idempotently(request, lambda: run_with_retries(plan, svc.writer, ctx),
                                         lambda i: svc.subjects.aggregate("port", i))
    await store_quota.release_of(svc, ctx, "port", {pid})
    return response
