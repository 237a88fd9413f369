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
from . import store_quota
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
    # Nova's service role binds ports (binding:host_id, binding:profile), as Neutron allows.
    req = validate_body("port", body, create=True, is_admin=ctx.is_admin or ctx.is_service)
    port_id = new_resource_id(ctx, "port")
    await ensure_default_group(svc, ctx, [req])
    if not ctx.idempotency_key or svc.reader.row("ports", port_id) is None:
        ledger = Ledger()
        async with store_quota.reserved_for(svc, ctx, "port", [req], [port_id]):
            await run_with_retries(lambda: plan_create(svc, ctx, req, port_id, ledger.won), svc.writer, ctx,
                                   ledger=ledger)
    body, _ = svc.reader.get("port", port_id, None)
    return respond(request, "port", body, status=201)


async def ensure_default_group(svc, ctx, reqs: list[dict]) -> None:
    """Ports that will get their project's default group need it to exist first."""
    from .handlers_security_group import ensure_default

    for project in sorted({r.get("project_id") or r.get("tenant_id") or ctx.project_id for r in reqs
                           if "security_groups" not in r and r.get("port_security_enabled", True)
                           and not str(r.get("device_owner", "")).startswith("network:")}):
        await ensure_default(svc, ctx, project, wait=False)


def sg_known(svc, ctx=None):
    """A group the port may use: it exists and (Neutron's _get_security_groups_on_port)
    belongs to the caller's project, unless the caller is an admin."""
    def known(sg_id: str) -> bool:
        row = svc.reader.row("security_groups", sg_id)
        return row is not None and (ctx is None or ctx.is_admin or row["project_id"] == ctx.project_id)
    return known


def plan_create(svc, ctx, req, port_id, won=None):
    net, tree_seq = visible_network(svc, ctx, req["network_id"])
    check_network_owner_attrs(ctx, net, req)
    return decide.decide_create(ctx, req, port_id=port_id, network=net, tree_seq=tree_seq,
                                subnets=svc.reader.subnets_of(net["id"]), claims=svc.claims, agents=svc.agents,
                                subjects=svc.subjects, rng=svc.rng, mac_base=svc.cfg.mac_base, won=won,
                                sg_known=sg_known(svc, ctx))


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
    body, _ = svc.reader.get("port", request.match_info["id"], ctx.scope("port"))
    return show(body, request, "port")


async def index(request: web.Request) -> web.Response:
    return list_response(request, _svc(request).reader, "port", "ports", ATTRS)


async def update(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    changes = validate_body("port", await read_json(request), create=False, is_admin=ctx.is_admin or ctx.is_service)
    pid = request.match_info["id"]
    ledger = Ledger()

    def plan():
        cur, seq = svc.reader.get("port", pid, ctx.scope("port"))
        check_if_match(request, cur)
        net, _ = svc.reader.get("network", cur["network_id"], None)
        return decide.decide_update(ctx, cur, seq, changes, network=net,
                                    subnets=svc.reader.subnets_of(net["id"]), claims=svc.claims,
                                    agents=svc.agents, subjects=svc.subjects, rng=svc.rng, won=ledger.won,
                                    sg_known=sg_known(svc, ctx))

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

    response = await delete_idempotently(request, lambda: run_with_retries(plan, svc.writer, ctx),
                                         lambda i: svc.subjects.aggregate("port", i))
    await store_quota.release_of(svc, ctx, "port", {pid})
    return response
