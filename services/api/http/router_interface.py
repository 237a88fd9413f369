"""PUT /v2.0/routers/{id}/add_router_interface and remove_router_interface.

By subnet: a new port takes the subnet's gateway address. By port: the client's port
(no device yet, one fixed IP) becomes the interface. Either way the port is bound to
the router's L3 host and published in the same atomic batch as the router fact.
Removal deletes the port (Neutron does, in both cases) and releases its claims.
"""

from __future__ import annotations

from aiohttp import web

from netledger.errors import BadRequest, Conflict, NotFound

from .common import json_response, new_resource_id, read_json
from ..commands import port as port_commands
from ..deciders import router as decide
from ..writer import run_atomic_with_claims
from ..commands.router import (
    admin, get_router, interfaces, plan_port, port_delete_plan, router_host,
)


def _body(body) -> tuple[str | None, str | None]:
    if not isinstance(body, dict):
        raise BadRequest("Request body must be an object")
    port_id, subnet_id = body.get("port_id"), body.get("subnet_id")
    if port_id and subnet_id:
        raise BadRequest("Bad router request: Cannot specify both subnet-id and port-id.", type="BadRequest")
    if not port_id and not subnet_id:
        raise BadRequest("Bad router request: Either subnet_id or port_id must be specified.", type="BadRequest")
    return port_id, subnet_id


def _subnet(svc, ctx, subnet_id: str) -> dict:
    try:
        return svc.reader.get("subnet", subnet_id, ctx.scope(), shared_ok=True)[0]
    except NotFound:
        raise NotFound(f"Subnet {subnet_id} could not be found.", type="SubnetNotFound") from None


def _info(router: dict, port: dict | None, subnet: dict, port_id: str) -> dict:
    return {"id": router["id"], "tenant_id": router["project_id"], "project_id": router["project_id"],
            "port_id": port_id, "network_id": subnet["network_id"], "subnet_id": subnet["id"],
            "subnet_ids": [subnet["id"]]}


def _by_subnet(svc, ctx, router: dict, subnet: dict, port_id: str, won):
    if not subnet.get("gateway_ip"):
        raise decide.bad_router("Subnet for router interface must have a gateway IP")
    req = {"network_id": subnet["network_id"], "device_owner": decide.OWNER_INTERFACE, "device_id": router["id"],
           "binding:host_id": router_host(svc, router["id"]), "project_id": router["project_id"],
           "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": subnet["gateway_ip"]}], "admin_state_up": True}
    return plan_port(svc, ctx, req, port_id, won)


def _by_port(svc, ctx, router: dict, port: dict, seq: int):
    if port.get("device_id") or port.get("device_owner"):
        raise Conflict(f"Unable to complete operation on port {port['id']} for network {port['network_id']}. "
                       f"Port already has an attached device {port.get('device_id')}.", type="PortInUse")
    if len(port["fixed_ips"]) != 1:
        raise decide.bad_router(f"Router port must have exactly one fixed IP (port {port['id']})")
    changes = {"device_id": router["id"], "device_owner": decide.OWNER_INTERFACE,
               "binding:host_id": router_host(svc, router["id"])}
    return port_commands.plan_update(svc, admin(ctx), port, seq, changes, check_groups=False)


async def add_interface(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], request.app["svc"]
    port_id, subnet_id = _body(await read_json(request))
    rid = request.match_info["id"]
    new_port = new_resource_id(ctx, "router-if")
    result = {}

    def plan(won):
        router, seq = get_router(svc, ctx, rid)
        itfs = interfaces(svc, rid)
        if subnet_id:
            subnet, pid = _subnet(svc, ctx, subnet_id), new_port
            decide.check_new_interface(router, subnet, itfs)   # before the port claims its address
            port_plan = _by_subnet(svc, ctx, router, subnet, pid, won)
        else:
            port, pseq = svc.reader.get("port", port_id, ctx.scope())
            pid = port["id"]
            subnet = _subnet(svc, ctx, port["fixed_ips"][0]["subnet_id"]) if port["fixed_ips"] else {}
            port_plan = _by_port(svc, ctx, router, port, pseq)
        result.update(_info(router, None, subnet, pid))
        return decide.decide_add_interface(router, seq, subnet=subnet, interfaces=itfs, port_id=pid,
                                           port_plan=port_plan, subjects=svc.subjects)

    await run_atomic_with_claims(plan, svc.writer, ctx)
    return json_response(result)


async def remove_interface(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], request.app["svc"]
    port_id, subnet_id = _body(await read_json(request))
    rid = request.match_info["id"]
    result = {}

    def plan(won):
        router, seq = get_router(svc, ctx, rid)
        itf = decide.find_interface(rid, interfaces(svc, rid), port_id=port_id, subnet_id=subnet_id)
        fips = svc.reader.conn.execute(
            "SELECT count(*) FROM floatingips f JOIN ports p ON p.id = f.port_id, "
            "json_each(json_extract(p.body, '$.fixed_ips')) fi WHERE f.router_id = ? "
            "AND json_extract(fi.value, '$.subnet_id') = ?", [rid, itf["subnet_id"]]).fetchone()[0]
        result.update(_info(router, None, {"id": itf["subnet_id"], "network_id": itf["network_id"]}, itf["port_id"]))
        return decide.decide_remove_interface(router, seq, itf=itf, port_delete=port_delete_plan(svc, ctx, itf["port_id"]),
                                              fips_in_subnet=fips, subjects=svc.subjects)

    await run_atomic_with_claims(plan, svc.writer, ctx)
    return json_response(result)
