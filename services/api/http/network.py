"""HTTP handlers for /v2.0/networks."""

from __future__ import annotations

from aiohttp import web

from ..attributes import NETWORK, validate_body
from netledger.services.dhcp import schedule_loop as dhcp_hooks

from .common import (may, check_if_match, delete_idempotently, list_response, new_resource_id, read_json, respond,
                     show)
from ..deciders import network as decide
from .. import store_quota
from ..commands import network as commands
from ..commands import rbac as rbac_views
from ..deciders import rbac
from ..writer import run_with_retries

ATTRS = frozenset(NETWORK) | {"subnets"}


def _svc(request):
    return request.app["svc"]


async def create(request: web.Request) -> web.Response:
    from .bulk import create_bulk

    ctx, svc = request["ctx"], _svc(request)
    body = await read_json(request)
    if isinstance(body, dict) and "networks" in body:
        return await create_bulk(request, "network", body)
    req = validate_body("network", body, create=True, may=may(request))
    net_id = new_resource_id(ctx, "network")
    if not ctx.idempotency_key or svc.reader.row("networks", net_id) is None:
        async with store_quota.reserved_for(svc, ctx, "network", [req], [net_id]):
            await run_with_retries(lambda: commands.plan_create(svc, ctx, req, net_id), svc.writer, ctx)
    body, _ = svc.reader.get("network", net_id, None)
    return respond(request, "network", body, status=201)


async def get(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    body, _ = svc.reader.get("network", request.match_info["id"], ctx.scope(), shared_ok=True)
    return show(body, request, "network")


async def index(request: web.Request) -> web.Response:
    return list_response(request, _svc(request).reader, "network", "networks", ATTRS, shared_visible=True)


async def update(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    changes = validate_body("network", await read_json(request), create=False, may=may(request))
    net_id = request.match_info["id"]

    def plan():
        cur, seq = svc.reader.get("network", net_id, ctx.scope())
        check_if_match(request, cur)
        # shared=False removes the wildcard RBAC policy: refused while others use the network.
        users = rbac_views.port_projects(svc.reader, net_id)
        rbac.check_unshare(cur, changes, rows=rbac_views.rows_of(svc.reader, net_id), port_projects=users)
        plan = decide.decide_update(ctx, cur, seq, changes, subjects=svc.subjects)
        return rbac.guard_unshare(plan, cur, changes, mac_head=svc.reader.mac_claims_head(net_id)[0],
                                  subjects=svc.subjects)

    await run_with_retries(plan, svc.writer, ctx)
    body, _ = svc.reader.get("network", net_id, None)
    return respond(request, "network", body)


async def delete(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    net_id = request.match_info["id"]
    await dhcp_hooks.before_network_delete(svc, ctx, net_id)     # Neutron deletes network:dhcp ports itself

    def plan():
        cur, _ = svc.reader.get("network", net_id, ctx.scope())
        check_if_match(request, cur)
        head, held = svc.reader.mac_claims_head(net_id)
        return decide.decide_delete(ctx, cur, mac_head=head, macs_held=held,
                                    seg_claims=svc.segment_claims_of(net_id), subjects=svc.subjects)

    subnets = {s["id"] for s in svc.reader.subnets_of(net_id)}    # deleted with it
    response = await delete_idempotently(request, lambda: run_with_retries(plan, svc.writer, ctx),
                                         svc.subjects.network)
    await store_quota.release_of(svc, ctx, "network", {net_id})
    await store_quota.release_of(svc, ctx, "subnet", subnets)
    return response
