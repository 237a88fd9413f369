"""HTTP handlers for the Octavia v2 API (``/v2/lbaas/...`` and ``/v2.0/lbaas/...``).

Every write loads the LB aggregate (its folded state and subject sequence), lets the
pure decider (deciders/octavia.py) turn the request into one fact, and publishes it
expecting that sequence (a lost race decides again on the newer state). The VIP is a
real port decided by the port machinery and published with ``LoadBalancerCreated`` in
one atomic batch (writer.run_atomic_with_claims). Errors have Octavia's body shape.
"""

from __future__ import annotations


import msgspec
from aiohttp import web

from netledger.errors import BadRequest, NotFound

from .common import json_response, new_resource_id, read_json
from ..deciders import octavia as decide
from ..deciders.octavia_attrs import validate
from ..deciders.router import merge
from ..commands.octavia import load, visible_states, write
from .octavia_common import _filtered, _svc, octavia_errors
from ..octavia_views import loadbalancer_body, lb_provisioning, status_tree
from ..writer import run_atomic_with_claims
from ..commands.router import plan_port, port_delete_plan

PREFIXES = ("/v2/lbaas", "/v2.0/lbaas")
OWNER_VIP = "Octavia"


# --- reads ------------------------------------------------------------------------


# --- writes -------------------------------------------------------------------------


def _vip_port_request(svc, fields: dict, lb_id: str, ctx=None) -> dict:
    if fields.get("vip_subnet_id"):
        sub, _ = _get(svc, "subnet", fields["vip_subnet_id"], ctx)
        fixed = {"subnet_id": sub["id"], **({"ip_address": fields["vip_address"]} if fields.get("vip_address") else {})}
        net_id, fixed_ips = sub["network_id"], [fixed]
    elif fields.get("vip_network_id"):
        net_id, fixed_ips = _get(svc, "network", fields["vip_network_id"], ctx)[0]["id"], None
    else:
        raise BadRequest("Validation failure: VIP must contain one of: vip_port_id, vip_network_id, vip_subnet_id.")
    # Octavia guards the VIP with a security group of its own making; here HAProxy itself
    # enforces listeners and allowed_cidrs, so the VIP port carries no port security.
    req = {"network_id": net_id, "device_owner": OWNER_VIP, "device_id": f"lb-{lb_id}", "admin_state_up": True,
           "name": f"octavia-lb-{lb_id}", "port_security_enabled": False}
    if fixed_ips:
        req["fixed_ips"] = fixed_ips
    return req


def _get(svc, kind: str, id: str, ctx=None) -> tuple[dict, int]:
    """A VIP's subnet/network/port as the caller sees it (Octavia asks Neutron with the
    user's token): someone else's is Octavia's 400 InvalidSubresource."""
    try:
        if ctx is not None and kind == "subnet":        # a shared (or RBAC-granted) network's subnet
            found = svc.reader.get(kind, id, None)
            svc.reader.get("network", found[0]["network_id"], ctx.scope("network"), shared_ok=True)
            return found
        return svc.reader.get(kind, id, ctx.scope(kind) if ctx is not None else None, shared_ok=True)
    except NotFound:
        if ctx is not None:
            raise BadRequest(f"{kind.capitalize()} {id} not found.") from None
        raise NotFound(f"{kind.capitalize()} {id} not found.") from None


@octavia_errors
async def lb_create(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    fields = validate("loadbalancer", await read_json(request), create=True)
    lb_id = new_resource_id(ctx, "loadbalancer")
    project = fields.get("project_id") or ctx.project_id
    if fields.get("vip_port_id"):
        port, _ = _get(svc, "port", fields["vip_port_id"], ctx)
        if not port["fixed_ips"]:
            raise BadRequest(f"Validation failure: port {port['id']} has no address.")
        given = msgspec.convert({"port_id": port["id"], "network_id": port["network_id"],
                                 "fixed_ips": port["fixed_ips"]}, _GivenPort)

        def plan(won):
            return decide.decide_lb_create(fields, lb_id=lb_id, project_id=project, vip_port=given,
                                           subjects=svc.subjects)
    else:
        port_req = _vip_port_request(svc, fields, lb_id, ctx)
        vip_id = new_resource_id(ctx, "lb-vip")

        def plan(won):
            port_plan = plan_port(svc, ctx, port_req, vip_id, won, project=project)
            lb_plan = decide.decide_lb_create(fields, lb_id=lb_id, project_id=project,
                                              vip_port=port_plan.facts[0].event, subjects=svc.subjects)
            return merge(port_plan, lb_plan, resource_id=lb_id)

    if not ctx.idempotency_key or svc.reader.row("loadbalancers", lb_id) is None:
        await run_atomic_with_claims(plan, svc.writer, ctx)
    state, _, rep = load(svc, ctx, lb_id)
    return json_response({"loadbalancer": loadbalancer_body(state, rep)}, status=201)


class _Fixed(msgspec.Struct):
    subnet_id: str
    ip_address: str


class _GivenPort(msgspec.Struct):
    port_id: str
    network_id: str
    fixed_ips: list[_Fixed]


@octavia_errors
async def lb_get(request: web.Request) -> web.Response:
    state, _, rep = load(_svc(request), request["ctx"], request.match_info["id"])
    return json_response({"loadbalancer": loadbalancer_body(state, rep)})


@octavia_errors
async def lb_index(request: web.Request) -> web.Response:
    bodies = [loadbalancer_body(s, r) for s, r in visible_states(_svc(request), request["ctx"])]
    return _filtered(request, bodies, "loadbalancers")


@octavia_errors
async def lb_update(request: web.Request) -> web.Response:
    ctx, svc, lb_id = request["ctx"], _svc(request), request.match_info["id"]
    changes = validate("loadbalancer", await read_json(request), create=False)
    await write(svc, ctx, lb_id, lambda s, seq, prov: decide.decide_lb_update(
        s, seq, changes, provisioning=prov, subjects=svc.subjects))
    state, _, rep = load(svc, ctx, lb_id)
    return json_response({"loadbalancer": loadbalancer_body(state, rep)})


@octavia_errors
async def lb_delete(request: web.Request) -> web.Response:
    ctx, svc, lb_id = request["ctx"], _svc(request), request.match_info["id"]
    cascade = request.query.get("cascade", "false").lower() in ("true", "1", "yes")

    def plan(won):
        state, seq, rep = load(svc, ctx, lb_id)
        port = svc.reader.row("ports", state.lb.vip_port_id)
        owns = port is not None and port["device_id"] == f"lb-{lb_id}"
        lb_plan = decide.decide_lb_delete(state, seq, cascade=cascade, provisioning=lb_provisioning(state, rep),
                                          subjects=svc.subjects, owns_vip=owns)
        return merge(lb_plan, port_delete_plan(svc, ctx, port["id"]), resource_id=lb_id) if owns else lb_plan

    await run_atomic_with_claims(plan, svc.writer, ctx)
    return web.Response(status=204)


@octavia_errors
async def lb_status(request: web.Request) -> web.Response:
    state, _, rep = load(_svc(request), request["ctx"], request.match_info["id"])
    return json_response(status_tree(state, rep))


@octavia_errors
async def lb_stats(request: web.Request) -> web.Response:
    load(_svc(request), request["ctx"], request.match_info["id"])
    return json_response({"stats": {"active_connections": 0, "bytes_in": 0, "bytes_out": 0, "request_errors": 0,
                                    "total_connections": 0}})


def add_routes(router) -> None:
    for base in PREFIXES:
        router.add_get(f"{base}/loadbalancers", lb_index)
        router.add_post(f"{base}/loadbalancers", lb_create)
        router.add_get(f"{base}/loadbalancers/{{id}}", lb_get)
        router.add_put(f"{base}/loadbalancers/{{id}}", lb_update)
        router.add_delete(f"{base}/loadbalancers/{{id}}", lb_delete)
        router.add_get(f"{base}/loadbalancers/{{id}}/status", lb_status)
        router.add_get(f"{base}/loadbalancers/{{id}}/stats", lb_stats)
