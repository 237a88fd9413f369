"""HTTP handlers for /v2.0/routers (l3, extraroute, extraroute-atomic, ext-gw-mode).

Router writes touch several aggregates (the router and its ports, with their claims):
``writer.run_atomic_with_claims`` wins the claims, then publishes all facts as one JetStream atomic
batch, so a router never names a port that does not exist; a lost race re-reads and
decides again (claims already won are reused, see deciders/claims.py).
"""

from __future__ import annotations

from aiohttp import web

from netledger.errors import BadRequest

from .. import attributes, extensions, store_quota
from ..attributes import Attr, READ_ONLY, COMMON, to_bool, to_list, validate_body
from .common import may, check_if_match, json_response, list_response, new_resource_id, read_json, respond, show
from ..deciders import Plan
from ..deciders import router as decide
from ..auth import require
from ..commands import agent as agents
from ..commands.router import (
    check_no_vpnservice, fips_on_router, gateway_port, gateway_port_plan, get_router, interfaces,
    port_delete_plan, router_host,
)
from ..writer import run_atomic_with_claims


def to_gateway_info(value, name: str):
    """external_gateway_info: null/{} (none) or {network_id, enable_snat?, external_fixed_ips?}."""
    if value in (None, {}):
        return None
    if not isinstance(value, dict) or "network_id" not in value or set(value) - {
            "network_id", "enable_snat", "external_fixed_ips"}:
        raise BadRequest(f"Invalid input for {name}. Reason: Validation of dictionary's keys failed. "
                         "Expected keys: {'network_id'} Provided keys: " + str(sorted(value or {})) + ".",
                         type="HTTPBadRequest")
    out = {"network_id": attributes.to_uuid(value["network_id"], "network_id")}
    if "enable_snat" in value:
        out["enable_snat"] = to_bool(value["enable_snat"], "enable_snat")
    if value.get("external_fixed_ips"):
        out["external_fixed_ips"] = to_list(value["external_fixed_ips"], "external_fixed_ips")
    return out


def _only_false(value, name: str):
    if value not in (False, None, "False", "false"):
        raise BadRequest(f"Attribute '{name}' is not supported by this server (only false is accepted)")
    return False


ROUTER = {
    **COMMON,
    "admin_state_up": Attr(to_bool, default=True),
    "external_gateway_info": Attr(to_gateway_info),
    "routes": Attr(to_list, create=False),
    "distributed": Attr(_only_false, admin_only=True), "ha": Attr(_only_false, admin_only=True),
    "flavor_id": Attr(attributes.only_empty, update=False),
    "availability_zone_hints": Attr(attributes.only_empty, update=False), "availability_zones": READ_ONLY,
}
attributes.SPECS["router"] = ROUTER
ATTRS = frozenset(ROUTER)
for alias, name, desc in (
        ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks "
         "and access to external networks via a NAT gateway."),
        ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"),
        ("extraroute-atomic", "Atomically add/remove extra routes", "Edit extra routes of a router on server side "
         "by atomically adding/removing extra routes"),
        ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router abstraction for "
         "specifying whether SNAT should occur on the external gateway")):
    extensions.EXTENSIONS[alias], extensions.NAMES[alias] = desc, name


# --- reads ------------------------------------------------------------------------

def _svc(request):
    return request.app["svc"]


# --- CRUD -------------------------------------------------------------------------

async def create(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    req = validate_body("router", await read_json(request), create=True, may=may(request))
    rid = new_resource_id(ctx, "router")
    gw_port_id = new_resource_id(ctx, "router-gw")

    def plan(won):
        gw = req.get("external_gateway_info")
        gw_plan = gateway_port_plan(svc, ctx, rid, gw, gw_port_id, won) if gw else None
        return decide.decide_create(ctx, req, router_id=rid, subjects=svc.subjects, gw_port=gw_plan)

    if not ctx.idempotency_key or svc.reader.row("routers", rid) is None:
        async with store_quota.reserved_for(svc, ctx, "router", [req], [rid]):
            await run_atomic_with_claims(plan, svc.writer, ctx)
    body, _ = svc.reader.get("router", rid, None)
    return respond(request, "router", body, status=201)


async def get(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    body, _ = get_router(svc, ctx, request.match_info["id"])
    return show(body, request, "router")


async def index(request: web.Request) -> web.Response:
    return list_response(request, _svc(request).reader, "router", "routers", ATTRS)


def routes_for(svc, rid: str, routes: list) -> tuple:
    itfs = interfaces(svc, rid)
    cidrs, own = [i["cidr"] for i in itfs], {i["gateway_ip"] for i in itfs}
    gw = gateway_port(svc, rid)
    if gw:
        for f in gw[0]["fixed_ips"]:
            own.add(f["ip_address"])
            cidrs.append(svc.reader.get("subnet", f["subnet_id"], None)[0]["cidr"])
    return decide.validate_routes(routes, cidrs=cidrs, own_ips=own)


async def update(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    changes = validate_body("router", await read_json(request), create=False, may=may(request))
    rid = request.match_info["id"]
    new_gw_port = new_resource_id(ctx, "router-gw")

    def plan(won):
        cur, seq = get_router(svc, ctx, rid)
        check_if_match(request, cur)
        routes = routes_for(svc, rid, changes["routes"]) if "routes" in changes else None
        gw_plan = None
        if "external_gateway_info" in changes:
            gw_plan = _gateway_change(svc, ctx, cur, seq, changes["external_gateway_info"], new_gw_port, won)
        return decide.decide_update(ctx, cur, seq, changes, subjects=svc.subjects, routes=routes, gateway=gw_plan)

    await run_atomic_with_claims(plan, svc.writer, ctx)
    body, _ = svc.reader.get("router", rid, None)
    return respond(request, "router", body)


def _gateway_change(svc, ctx, cur, seq, wanted, new_port_id, won) -> Plan:
    current = cur.get("external_gateway_info")
    gw = gateway_port(svc, cur["id"])
    needs_port = wanted and not (current and current["network_id"] == wanted["network_id"])
    if wanted and current and not needs_port and "enable_snat" in wanted:
        require(svc.policy, "update_router:external_gateway_info:enable_snat", ctx)
    new_port = gateway_port_plan(svc, ctx, cur["id"], wanted, new_port_id, won) if needs_port else None
    old_delete = port_delete_plan(svc, ctx, gw[0]["id"]) if gw and (needs_port or not wanted) else None
    return decide.decide_gateway(cur, seq, wanted, subjects=svc.subjects, gw_port=gw[0] if gw else None,
                                 new_port=new_port, old_port_delete=old_delete,
                                 fips_on_router=len(fips_on_router(svc, cur["id"])))


async def delete(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    rid = request.match_info["id"]

    def plan(won):
        cur, seq = get_router(svc, ctx, rid)
        check_if_match(request, cur)
        check_no_vpnservice(svc, rid)
        gw = gateway_port(svc, rid)
        gw_delete = port_delete_plan(svc, ctx, gw[0]["id"]) if gw else None
        return decide.decide_delete(cur, seq, interfaces=interfaces(svc, rid), gw_delete=gw_delete,
                                    fips_on_router=len(fips_on_router(svc, rid)), subjects=svc.subjects)

    await run_atomic_with_claims(plan, svc.writer, ctx)
    await store_quota.release_of(svc, ctx, "router", {rid})
    return web.Response(status=204)


async def extraroutes(request: web.Request) -> web.Response:
    """extraroute-atomic: add/remove routes against the router's current set, decided
    and published expecting the router's sequence (no lost updates)."""
    ctx, svc = request["ctx"], _svc(request)
    body = await read_json(request)
    rid, action = request.match_info["id"], request.match_info["action"]
    given = body.get("router", {}).get("routes") if isinstance(body, dict) else None
    if not isinstance(given, list):
        raise BadRequest("Unable to find 'router' with 'routes' in request body")

    def plan(won):
        cur, seq = get_router(svc, ctx, rid)
        routes = [dict(r) for r in cur.get("routes", [])]
        if action == "add_extraroutes":
            routes += [r for r in given if r not in routes]
        else:
            routes = [r for r in routes if r not in given]
        return decide.decide_update(ctx, cur, seq, {}, subjects=svc.subjects, routes=routes_for(svc, rid, routes))

    await run_atomic_with_claims(plan, svc.writer, ctx)
    body, _ = svc.reader.get("router", rid, None)
    return json_response({"router": body})


async def l3_agents(request: web.Request) -> web.Response:
    """l3_agent_scheduler's GET: the agent hosting the router."""
    ctx, svc = request["ctx"], _svc(request)
    get_router(svc, ctx, request.match_info["id"])
    host = router_host(svc, request.match_info["id"])
    rows = [r for r in svc.reader.agents() if r["host"] == host and r["agent_type"] == "L3 agent"]
    return json_response({"agents": agents.bodies(svc, rows)})


def add_routes(router) -> None:
    router.add_get("/v2.0/routers", index)
    router.add_post("/v2.0/routers", create)
    router.add_get("/v2.0/routers/{id}", get)
    router.add_put("/v2.0/routers/{id}", update)
    router.add_delete("/v2.0/routers/{id}", delete)
    router.add_put("/v2.0/routers/{id}/{action:add_extraroutes|remove_extraroutes}", extraroutes)
    router.add_get("/v2.0/routers/{id}/l3-agents", l3_agents)
