"""HTTP handlers for /v2.0/ports."""

from __future__ import annotations

from aiohttp import web

from netledger.errors import Conflict, Forbidden

from .attributes import PORT, validate_body
from .common import (check_if_match, delete_idempotently, list_response, new_resource_id, read_json, respond,
                     show)
from .deciders import port as decide
from .deciders.claims import Ledger
from .handlers_subnet import visible_network
from .writer import run_with_retries

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
    req = validate_body("port", body, create=True, is_admin=ctx.is_admin)
    port_id = new_resource_id(ctx, "port")
    if not ctx.idempotency_key or svc.reader.row("ports", port_id) is None:
        ledger = Ledger()
        await run_with_retries(lambda: plan_create(svc, ctx, req, port_id, ledger.won), svc.writer, ctx,
                               ledger=ledger)
    body, _ = svc.reader.get("port", port_id, None)
    return respond(request, "port", body, status=201)


def plan_create(svc, ctx, req, port_id, won=None):
    net, tree_seq = visible_network(svc, ctx, req["network_id"])
    check_network_owner_attrs(ctx, net, req)
    return decide.decide_create(ctx, req, port_id=port_id, network=net, tree_seq=tree_seq,
                                subnets=svc.reader.subnets_of(net["id"]), claims=svc.claims, agents=svc.agents,
                                subjects=svc.subjects, rng=svc.rng, mac_base=svc.cfg.mac_base, won=won)


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
    ledger = Ledger()

    def plan():
        cur, seq = svc.reader.get("port", pid, ctx.scope())
        check_if_match(request, cur)
        net, _ = svc.reader.get("network", cur["network_id"], None)
        return decide.decide_update(ctx, cur, seq, changes, network=net,
                                    subnets=svc.reader.subnets_of(net["id"]), claims=svc.claims,
                                    agents=svc.agents, subjects=svc.subjects, rng=svc.rng, won=ledger.won)

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
        return decide.decide_delete(ctx, cur, seq, claims=svc.claims, subjects=svc.subjects)

    return await delete_idempotently(request, lambda: run_with_retries(plan, svc.writer, ctx),
                                     lambda i: svc.subjects.aggregate("port", i))
