"""Octavia children (listeners, pools, members, health monitors, L7 policies and rules):
one generic CRUD over the LB aggregate, parameterised by kind.

A child's load balancer is found through ``lb_children`` (or the parent named in the
body or URL); the write is then one fact on that LB's subject (see http/octavia.py).
"""

from __future__ import annotations

from aiohttp import web

from netledger.errors import BadRequest

from .common import json_response, new_resource_id, read_json
from ..deciders import octavia as decide
from ..deciders.octavia_attrs import validate
from ..commands.octavia import lb_of, load, visible_states, write
from .octavia_common import COLLECTIONS, _filtered, _svc, octavia_errors
from ..octavia_views import BODIES

# kind -> (URL parent parameter, spec field it fills)
URL_PARENT = {"member": ("pool_id", "pool_id"), "l7rule": ("policy_id", "policy_id")}
PARENT_KIND = {"member": "pool", "l7rule": "l7policy"}
# The parent as a query filter (openstacksdk sends ?l7policy_id= when listing rules; Octavia
# filters on that column): the URL already names the parent, so only a different id filters.
PARENT_FILTER = {"member": "pool_id", "l7rule": "l7policy_id"}
# Octavia's body key for an L7 rule is "rule" ({"rule": {...}}, list "rules"), not the kind's name.
BODY_KEY = {"l7rule": "rule"}


def _body(kind: str, body):
    """The request body keyed by kind, as validate() reads it (Octavia's "rule" -> "l7rule")."""
    key = BODY_KEY.get(kind)
    if key and isinstance(body, dict) and key in body:
        return {kind: body[key]}
    return body


def _lb_for_create(svc, ctx, kind: str, fields: dict) -> str:
    """The load balancer a new child joins, from the parent it names."""
    if kind in URL_PARENT:
        return lb_of(svc, ctx, PARENT_KIND[kind], fields[URL_PARENT[kind][1]])
    if kind == "pool" and not (fields.get("loadbalancer_id") or fields.get("listener_id")):
        raise BadRequest("Validation failure: Either loadbalancer_id or listener_id must be specified.")
    if fields.get("loadbalancer_id"):
        load(svc, ctx, fields["loadbalancer_id"])
        return fields["loadbalancer_id"]
    if kind == "healthmonitor":
        return lb_of(svc, ctx, "pool", fields["pool_id"])
    return lb_of(svc, ctx, "listener", fields["listener_id"])


def _item_response(svc, ctx, kind: str, lb_id: str, id: str, status: int = 200) -> web.Response:
    state, _, rep = load(svc, ctx, lb_id)
    item = decide.find(state, kind, id)
    return json_response({BODY_KEY.get(kind, kind): BODIES[kind](item, state, rep)}, status=status)


def _child(request: web.Request, kind: str) -> tuple[str, str]:
    """(lb id, child id) of the child the URL names, checking its URL parent."""
    ctx, svc, cid = request["ctx"], _svc(request), request.match_info["id"]
    lb_id = lb_of(svc, ctx, kind, cid)
    if kind in URL_PARENT:
        param, field = URL_PARENT[kind]
        state, _, _ = load(svc, ctx, lb_id)
        if getattr(decide.find(state, kind, cid), field) != request.match_info[param]:
            raise decide.not_found(kind, cid)
    return lb_id, cid


def handlers(kind: str):
    @octavia_errors
    async def create(request: web.Request) -> web.Response:
        ctx, svc = request["ctx"], _svc(request)
        fields = validate(kind, _body(kind, await read_json(request)), create=True)
        if kind in URL_PARENT:
            param, field = URL_PARENT[kind]
            fields[field] = request.match_info[param]
        lb_id = _lb_for_create(svc, ctx, kind, fields)
        new_id = new_resource_id(ctx, kind)
        await write(svc, ctx, lb_id, lambda s, seq, prov: decide.decide_child_create(
            kind, s, seq, fields, new_id=new_id, provisioning=prov, subjects=svc.subjects))
        return _item_response(svc, ctx, kind, lb_id, new_id, 201)

    @octavia_errors
    async def get(request: web.Request) -> web.Response:
        lb_id, cid = _child(request, kind)
        return _item_response(_svc(request), request["ctx"], kind, lb_id, cid)

    @octavia_errors
    async def update(request: web.Request) -> web.Response:
        ctx, svc = request["ctx"], _svc(request)
        changes = validate(kind, _body(kind, await read_json(request)), create=False)
        lb_id, cid = _child(request, kind)
        await write(svc, ctx, lb_id, lambda s, seq, prov: decide.decide_child_update(
            kind, s, seq, cid, changes, provisioning=prov, subjects=svc.subjects))
        return _item_response(svc, ctx, kind, lb_id, cid)

    @octavia_errors
    async def delete(request: web.Request) -> web.Response:
        ctx, svc = request["ctx"], _svc(request)
        lb_id, cid = _child(request, kind)
        await write(svc, ctx, lb_id, lambda s, seq, prov: decide.decide_child_delete(
            kind, s, seq, cid, provisioning=prov, subjects=svc.subjects))
        return web.Response(status=204)

    @octavia_errors
    async def index(request: web.Request) -> web.Response:
        ctx, svc = request["ctx"], _svc(request)
        parent = URL_PARENT.get(kind)
        if parent:
            lb_of(svc, ctx, PARENT_KIND[kind], request.match_info[parent[0]])
        bodies = []
        for state, rep in visible_states(svc, ctx):
            for item in getattr(state, decide.FIELDS[kind]):
                if parent and getattr(item, parent[1]) != request.match_info[parent[0]]:
                    continue
                bodies.append(BODIES[kind](item, state, rep))
        given = ()
        if parent:
            given = (PARENT_FILTER[kind],)
            if request.query.get(given[0], request.match_info[parent[0]]) != request.match_info[parent[0]]:
                bodies = []
        return _filtered(request, bodies, COLLECTIONS[kind], given)

    return create, get, update, delete, index


@octavia_errors
async def members_batch(request: web.Request) -> web.Response:
    """PUT /pools/{pool_id}/members {"members": [...]}: replace the pool's members (202)."""
    ctx, svc, pool_id = request["ctx"], _svc(request), request.match_info["pool_id"]
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("members"), list):
        raise BadRequest("Invalid input: the request body must be an object with 'members' (a list)")
    wanted = [validate("member", {"member": m}, create=True) for m in body["members"]]
    new_ids = [new_resource_id(ctx, "member", i) for i in range(len(wanted))]
    lb_id = lb_of(svc, ctx, "pool", pool_id)
    await write(svc, ctx, lb_id, lambda s, seq, prov: decide.decide_members_batch(
        s, seq, pool_id, wanted, new_ids=new_ids, provisioning=prov, subjects=svc.subjects))
    return web.Response(status=202)


def add_routes(router, base: str) -> None:
    paths = {"listener": f"{base}/listeners", "pool": f"{base}/pools", "healthmonitor": f"{base}/healthmonitors",
             "l7policy": f"{base}/l7policies", "member": f"{base}/pools/{{pool_id}}/members",
             "l7rule": f"{base}/l7policies/{{policy_id}}/rules"}
    for kind, path in paths.items():
        create, get, update, delete, index = handlers(kind)
        router.add_get(path, index)
        router.add_post(path, create)
        router.add_get(f"{path}/{{id}}", get)
        router.add_put(f"{path}/{{id}}", update)
        router.add_delete(f"{path}/{{id}}", delete)
    router.add_put(f"{base}/pools/{{pool_id}}/members", members_batch)
