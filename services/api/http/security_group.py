"""HTTP handlers for /v2.0/security-groups and /v2.0/security-group-rules.

Rules are written through their group's aggregate (expected sequence = the group's
last), so duplicate checks cannot race. A project's default group is created on first
use (listing groups, creating a group or a port) with expected sequence 0 under a
deterministic id, so concurrent first uses create it once.
"""

from __future__ import annotations

from aiohttp import web

from netledger.libs.events.envelope import utc_now

from .. import attributes, extensions, store_quota
from ..attributes import COMMON, READ_ONLY, Attr, to_bool, to_int, to_str, to_uuid, validate_body
from .common import may, check_if_match, list_response, new_resource_id, read_json, respond, show
from ..commands.security_group import ensure_default, get_group, get_rule, group_exists, ports_using
from ..deciders import security_group as decide
from ..deciders.network import _project
from ..writer import run_with_retries


def _uuid_or_none(value, name: str):
    return None if value is None else to_uuid(value, name)


def _int_or_none(value, name: str):
    return None if value is None else to_int(0, 65535)(value, name)


def _passthrough_str(value, name: str):
    return None if value is None else value


SECURITY_GROUP = {**COMMON, "stateful": Attr(to_bool, default=True), "shared": READ_ONLY,
                  "security_group_rules": READ_ONLY}
SECURITY_GROUP_RULE = {
    **{k: v for k, v in COMMON.items() if k not in ("name", "tags", "status")},
    "security_group_id": Attr(to_uuid, update=False, default=attributes.REQUIRED),
    "direction": Attr(_passthrough_str, update=False, default=attributes.REQUIRED),
    "ethertype": Attr(_passthrough_str, update=False, default="IPv4"),
    "protocol": Attr(_passthrough_str, update=False),
    "port_range_min": Attr(_int_or_none, update=False), "port_range_max": Attr(_int_or_none, update=False),
    "remote_ip_prefix": Attr(_passthrough_str, update=False),
    "remote_group_id": Attr(_uuid_or_none, update=False),
    "remote_address_group_id": Attr(_uuid_or_none, update=False),
    "description": Attr(to_str(255), update=False, default=""),
    "normalized_cidr": READ_ONLY, "belongs_to_default_sg": READ_ONLY,
}
attributes.SPECS["security_group"] = SECURITY_GROUP
attributes.SPECS["security_group_rule"] = SECURITY_GROUP_RULE
GROUP_ATTRS = frozenset(SECURITY_GROUP)
RULE_ATTRS = frozenset(SECURITY_GROUP_RULE)
for alias, name, desc in (
        ("security-group", "security-group", "The security groups extension."),
        ("stateful-security-group", "Stateful security group", "Support for stateful/stateless security groups"),
        ("security-groups-remote-address-group", "Remote address group id field for security group rules",
         "Add new field of remote address group id in security group rules")):
    extensions.EXTENSIONS[alias], extensions.NAMES[alias] = desc, name


def _svc(request):
    return request.app["svc"]


# --- groups ---------------------------------------------------------------------

async def create_group(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    req = validate_body("security_group", await read_json(request), create=True, may=may(request))
    project = _project(ctx, req)
    await ensure_default(svc, ctx, project)
    sg_id = new_resource_id(ctx, "security_group")
    if not ctx.idempotency_key or not group_exists(svc, sg_id):
        async with store_quota.reserved_for(svc, ctx, "security_group", [req], [sg_id]):
            await run_with_retries(lambda: decide.decide_create(req, sg_id=sg_id, project_id=project,
                                                                subjects=svc.subjects, time=utc_now()),
                                   svc.writer, ctx)
    body, _ = svc.reader.get("security_group", sg_id, None)
    return respond(request, "security_group", body, status=201)


async def list_groups(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    await ensure_default(svc, ctx, ctx.project_id)   # Neutron creates it on a list too
    return list_response(request, svc.reader, "security_group", "security_groups", GROUP_ATTRS)


async def get_group_h(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    body, _ = get_group(svc, ctx, request.match_info["id"])
    return show(body, request, "security_group")


async def update_group(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    changes = validate_body("security_group", await read_json(request), create=False, may=may(request))
    sg_id = request.match_info["id"]

    def plan():
        cur, seq = get_group(svc, ctx, sg_id)
        check_if_match(request, cur)
        return decide.decide_update(cur, seq, changes, subjects=svc.subjects)

    await run_with_retries(plan, svc.writer, ctx)
    body, _ = svc.reader.get("security_group", sg_id, None)
    return respond(request, "security_group", body)


async def delete_group(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    sg_id = request.match_info["id"]

    def plan():
        cur, seq = get_group(svc, ctx, sg_id)
        check_if_match(request, cur)
        return decide.decide_delete(cur, seq, ports_using=ports_using(svc, sg_id), is_admin=ctx.is_admin,
                                    subjects=svc.subjects)

    await run_with_retries(plan, svc.writer, ctx)
    await store_quota.release_of(svc, ctx, "security_group", {sg_id})
    return web.Response(status=204)


# --- rules ----------------------------------------------------------------------

async def create_rule(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    req = validate_body("security_group_rule", await read_json(request), create=True, may=may(request))
    rule_id = new_resource_id(ctx, "security_group_rule")
    if req.get("remote_group_id"):
        get_group(svc, ctx, req["remote_group_id"])
    group, _ = get_group(svc, ctx, req["security_group_id"])
    rule = decide.build_rule(req, rule_id=rule_id, project_id=group["project_id"], time=utc_now())

    def plan():
        cur, seq = get_group(svc, ctx, req["security_group_id"])
        if any(r["id"] == rule_id for r in cur["security_group_rules"]):   # idempotent retry
            return decide.Plan(resource_id=rule_id)
        return decide.decide_add_rule(cur, seq, rule, subjects=svc.subjects)

    await run_with_retries(plan, svc.writer, ctx)
    body, _ = svc.reader.get("security_group_rule", rule_id, None)
    return respond(request, "security_group_rule", body, status=201)


async def list_rules(request: web.Request) -> web.Response:
    return list_response(request, _svc(request).reader, "security_group_rule", "security_group_rules", RULE_ATTRS)


async def get_rule_h(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    body, _ = get_rule(svc, ctx, request.match_info["id"])
    return show(body, request, "security_group_rule")


async def delete_rule(request: web.Request) -> web.Response:
    ctx, svc = request["ctx"], _svc(request)
    rule_id = request.match_info["id"]

    def plan():
        rule, _ = get_rule(svc, ctx, rule_id)
        group, seq = get_group(svc, ctx, rule["security_group_id"])
        return decide.decide_remove_rule(group, seq, rule_id, subjects=svc.subjects)

    await run_with_retries(plan, svc.writer, ctx)
    return web.Response(status=204)


def add_routes(router) -> None:
    router.add_get("/v2.0/security-groups", list_groups)
    router.add_post("/v2.0/security-groups", create_group)
    router.add_get("/v2.0/security-groups/{id}", get_group_h)
    router.add_put("/v2.0/security-groups/{id}", update_group)
    router.add_delete("/v2.0/security-groups/{id}", delete_group)
    router.add_get("/v2.0/security-group-rules", list_rules)
    router.add_post("/v2.0/security-group-rules", create_rule)
    router.add_get("/v2.0/security-group-rules/{id}", get_rule_h)
    router.add_delete("/v2.0/security-group-rules/{id}", delete_rule)
