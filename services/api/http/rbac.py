"""HTTP handlers for /v2.0/rbac-policies (Neutron's rbac-policies extension).

Visibility: a policy is seen by its own project (and admins). Creating one needs the
network (visible: 404 otherwise) and its ownership (403). Reads go through the
projection; writes through deciders/rbac.py with the writer's retries.
"""

from __future__ import annotations

import contextlib

from aiohttp import web

from netledger.errors import BadRequest, InvalidInput, NotFound

from .. import store_quota
from .common import delete_idempotently, json_response, new_resource_id, read_json
from ..commands.rbac import all_policies, find, port_projects, rows_of
from ..deciders import rbac as decide
from ..writer import run_with_retries

FIELDS = ("id", "project_id", "tenant_id", "object_type", "object_id", "action", "target_tenant")


def _svc(request):
    return request.app["svc"]


def _view(policy: dict, request: web.Request) -> dict:
    fields = [v for k, v in request.query.items() if k == "fields"]
    return {k: v for k, v in policy.items() if not fields or k in fields}


async def index(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    wanted = {k: request.query.getall(k) for k in request.query if k in FIELDS}
    rows = [p for p in all_policies(svc.reader, ctx.scope())
            if all(str(p.get(k)) in vals for k, vals in wanted.items())]
    return json_response({"rbac_policies": [_view(p, request) for p in rows]})


async def get(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    policy, _ = find(svc.reader, ctx, request.match_info["id"])
    return json_response({"rbac_policy": _view(policy, request)})


async def create(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    req = decide.validate_create(await read_json(request))
    policy_id = new_resource_id(ctx, "rbac_policy")

    def plan():
        try:
            net, seq = svc.reader.get("network", req["object_id"], ctx.scope(), shared_ok=True)
        except NotFound:
            # Neutron looks the network up in a BEFORE_CREATE callback; its failure comes
            # back as CallbackFailure -> InvalidInput (400), not NetworkNotFound.
            raise InvalidInput(f"Network {req['object_id']} could not be found.") from None
        return decide.decide_create(ctx, req, policy_id=policy_id, network=net, network_seq=seq,
                                    tree_seq=svc.reader.network_tree_seq(net["id"]),
                                    rows=rows_of(svc.reader, net["id"]), subjects=svc.subjects)

    # The wildcard share is the network's flag, not a policy row: it holds no unit.
    wildcard = req["action"] == "access_as_shared" and req["target_tenant"] == decide.WILDCARD
    async with (contextlib.nullcontext() if wildcard
                else store_quota.reserved_for(svc, ctx, "rbac_policy", [req], [policy_id])):
        done = await run_with_retries(plan, svc.writer, ctx)
    policy, _ = find(svc.reader, ctx.__class__(**{**_fields(ctx), "is_admin": True}), done.resource_id)
    return json_response({"rbac_policy": policy}, status=201)


def _fields(ctx) -> dict:
    return {f: getattr(ctx, f) for f in ctx.__struct_fields__}


async def update(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    body = await read_json(request)
    given = body.get("rbac_policy") if isinstance(body, dict) else None
    if not isinstance(given, dict) or set(given) - {"target_tenant", "target_project"} or not given:
        raise BadRequest("Only 'target_tenant' of an RBAC policy can be updated")
    target = given.get("target_tenant") or given.get("target_project")
    pid = request.match_info["id"]

    def plan():
        policy, net = find(svc.reader, ctx, pid)
        return decide.decide_update(ctx, policy, target, network=net, rows=rows_of(svc.reader, net["id"]),
                                    port_projects=port_projects(svc.reader, net["id"]),
                                    mac_head=svc.reader.mac_claims_head(net["id"])[0], subjects=svc.subjects)

    await run_with_retries(plan, svc.writer, ctx)
    policy, _ = find(svc.reader, ctx, pid)
    return json_response({"rbac_policy": policy})


async def delete(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    pid = request.match_info["id"]

    def plan():
        policy, net = find(svc.reader, ctx, pid)
        return decide.decide_delete(ctx, policy, network=net, rows=rows_of(svc.reader, net["id"]),
                                    port_projects=port_projects(svc.reader, net["id"]),
                                    mac_head=svc.reader.mac_claims_head(net["id"])[0], subjects=svc.subjects)

    response = await delete_idempotently(request, lambda: run_with_retries(plan, svc.writer, ctx),
                                         lambda i: f"{svc.subjects.prefix}.evt.net.*.rbac.{i}")
    await store_quota.release_of(svc, ctx, "rbac_policy", {pid})
    return response


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v2.0/rbac-policies", index)
    router.add_post("/v2.0/rbac-policies", create)
    router.add_get("/v2.0/rbac-policies/{id}", get)
    router.add_put("/v2.0/rbac-policies/{id}", update)
    router.add_delete("/v2.0/rbac-policies/{id}", delete)
