"""HTTP handlers for /v2.0/floatingips (l3 floating IPs, fip-port-details)."""

from __future__ import annotations

import ipaddress

import msgspec
from aiohttp import web

from netledger.errors import BadRequest, NotFound

from .. import attributes, extensions, store_quota
from ..attributes import Attr, READ_ONLY, COMMON, validate_body
from .common import may, check_if_match, list_response, new_resource_id, read_json, respond, show
from ..deciders import floatingip as decide
from ..deciders.router import OWNER_FIP
from ..writer import run_atomic_with_claims
from ..commands.router import external_network, plan_port, port_delete_plan


def to_ip_or_none(value, name: str):
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except (ValueError, TypeError):
        raise BadRequest(f"Invalid input for {name}. Reason: '{value}' is not a valid IP address.",
                         type="HTTPBadRequest") from None


def to_uuid_or_none(value, name: str):
    return None if value is None else attributes.to_uuid(value, name)


FLOATINGIP = {
    **{k: v for k, v in COMMON.items() if k != "name"},
    "floating_ip_address": Attr(to_ip_or_none, update=False, admin_only=True),
    "subnet_id": Attr(to_uuid_or_none, update=False),
    "floating_network_id": Attr(attributes.to_uuid, update=False, default=attributes.REQUIRED),
    "router_id": READ_ONLY, "port_details": READ_ONLY, "port_forwardings": READ_ONLY,
    "port_id": Attr(to_uuid_or_none), "fixed_ip_address": Attr(to_ip_or_none),
    "qos_policy_id": Attr(attributes.only_empty),
}
attributes.SPECS["floatingip"] = FLOATINGIP
ATTRS = frozenset(FLOATINGIP) | {"floating_port_id"}
extensions.EXTENSIONS["fip-port-details"] = "Add port_details attribute to Floating IP resource"
extensions.NAMES["fip-port-details"] = "Floating IP Port Details Extension"


def _svc(request):
    return request.app["svc"]


def get_fip(svc, ctx, fip_id: str) -> tuple[dict, int]:
    try:
        return svc.reader.get("floatingip", fip_id, ctx.scope())
    except NotFound:
        raise NotFound(f"Floating IP {fip_id} could not be found", type="FloatingIPNotFound") from None


def _routers_for(svc, floating_network_id: str) -> list[dict]:
    rows = svc.reader.conn.execute(
        "SELECT r.id, r.gw_network_id, (SELECT json_group_array(subnet_id) FROM router_ports p "
        "WHERE p.router_id = r.id) FROM routers r WHERE r.gw_network_id = ?", [floating_network_id])
    return [{"id": r[0], "gw_network_id": r[1], "subnet_ids": msgspec.json.decode(r[2])} for r in rows]


def _taken(svc, port_id: str, floating_network_id: str) -> list[dict]:
    rows = svc.reader.conn.execute(
        "SELECT body FROM floatingips_v v WHERE json_extract(v.body, '$.port_id') = ? "
        "AND json_extract(v.body, '$.floating_network_id') = ?", [port_id, floating_network_id]).fetchall()
    return [msgspec.json.decode(r[0]) for r in rows]


def _association(svc, ctx, fip_id: str, address: str, net_id: str, port_id, fixed_ip) -> decide.Association:
    if not port_id:
        if fixed_ip:
            raise decide.bad_fip("fixed_ip_address cannot be specified without a port_id")
        return decide.Association()
    try:
        port, _ = svc.reader.get("port", port_id, ctx.scope())
    except NotFound:
        raise NotFound(f"Port {port_id} could not be found.", type="PortNotFound") from None
    return decide.resolve(port, fixed_ip, floating_network_id=net_id, fip_id=fip_id, fip_address=address,
                          routers=_routers_for(svc, net_id), taken=_taken(svc, port_id, net_id))


async def create(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    req = validate_body("floatingip", await read_json(request), create=True, may=may(request))
    fid, port_id = new_resource_id(ctx, "floatingip"), new_resource_id(ctx, "floatingip-port")

    def plan(won):
        net_id = req["floating_network_id"]
        external_network(svc, net_id, "floatingip")
        fixed: dict = {}
        if req.get("subnet_id"):
            fixed["subnet_id"] = req["subnet_id"]
        if req.get("floating_ip_address"):
            fixed["ip_address"] = req["floating_ip_address"]
        preq = {"network_id": net_id, "device_owner": OWNER_FIP, "device_id": fid, "admin_state_up": True}
        if fixed:
            preq["fixed_ips"] = [fixed]
        port_plan = plan_port(svc, ctx, preq, port_id, won, project="")
        ip = port_plan.facts[0].event.fixed_ips[0].ip_address
        assoc = _association(svc, ctx, fid, ip, net_id, req.get("port_id"), req.get("fixed_ip_address"))
        return decide.decide_create(ctx, req, fip_id=fid, port_plan=port_plan, assoc=assoc, subjects=svc.subjects)

    if not ctx.idempotency_key or svc.reader.row("floatingips", fid) is None:
        async with store_quota.reserved_for(svc, ctx, "floatingip", [req], [fid]):
            await run_atomic_with_claims(plan, svc.writer, ctx)
    body, _ = svc.reader.get("floatingip", fid, None)
    return respond(request, "floatingip", body, status=201)


async def get(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    body, _ = get_fip(svc, ctx, request.match_info["id"])
    return show(body, request, "floatingip")


async def index(request: web.Request) -> web.Response:
    return list_response(request, _svc(request).reader, "floatingip", "floatingips", ATTRS)


async def update(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    changes = validate_body("floatingip", await read_json(request), create=False, may=may(request))
    fid = request.match_info["id"]

    def plan(won):
        cur, seq = get_fip(svc, ctx, fid)
        check_if_match(request, cur)
        assoc = None
        if "port_id" in changes or "fixed_ip_address" in changes:
            port_id = changes.get("port_id", cur.get("port_id")) if "port_id" in changes else cur.get("port_id")
            assoc = _association(svc, ctx, fid, cur["floating_ip_address"], cur["floating_network_id"],
                                 port_id, changes.get("fixed_ip_address"))
        return decide.decide_update(cur, seq, changes, assoc=assoc, subjects=svc.subjects)

    await run_atomic_with_claims(plan, svc.writer, ctx)
    body, _ = svc.reader.get("floatingip", fid, None)
    return respond(request, "floatingip", body)


async def delete(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    fid = request.match_info["id"]

    def plan(won):
        cur, seq = get_fip(svc, ctx, fid)
        check_if_match(request, cur)
        row = svc.reader.conn.execute("SELECT floating_port_id FROM floatingips WHERE id = ?", [fid]).fetchone()
        cur = {**cur, "floating_port_id": row[0] if row else ""}
        exists = row and svc.reader.row("ports", row[0]) is not None
        port_delete = port_delete_plan(svc, ctx, row[0]) if exists else None
        return decide.decide_delete(cur, seq, port_delete=port_delete, subjects=svc.subjects)

    await run_atomic_with_claims(plan, svc.writer, ctx)
    await store_quota.release_of(svc, ctx, "floatingip", {fid})
    return web.Response(status=204)


def add_routes(router) -> None:
    router.add_get("/v2.0/floatingips", index)
    router.add_post("/v2.0/floatingips", create)
    router.add_get("/v2.0/floatingips/{id}", get)
    router.add_put("/v2.0/floatingips/{id}", update)
    router.add_delete("/v2.0/floatingips/{id}", delete)
