"""HTTP handlers for /v2.0/quotas (Neutron's quotasv2 and quota_details extensions).

Limits are facts on ``<prefix>.evt.quota.<project>``; usage is counted from what
exists, and enforced on create through usage slots (store_quota.py).
"""

from __future__ import annotations

from aiohttp import web

from netledger.errors import Forbidden
from netledger.libs.events.quota import QuotaLimitsReset, QuotaLimitsSet
from netledger.libs.events.subjects import host_token

from .. import store_quota
from .common import json_response, read_json
from ..deciders import Plan, Publication
from ..deciders import quota as decide


def _svc(request):
    return request.app["svc"]


def _check(request: web.Request, rule: str, project: str) -> None:
    ctx = request["ctx"]
    if not request.app["auth"].allowed(rule, ctx, {"project_id": project, "tenant_id": project}):
        raise Forbidden(f"(rule:{rule}) is disallowed by policy", type="PolicyNotAuthorized")


def _body(project: str, limits: dict[str, int]) -> dict:
    return {**limits, "project_id": project, "tenant_id": project}


async def index(request: web.Request) -> web.Response:
    """Projects with limits other than the defaults (admins only, as Neutron)."""
    ctx, svc = request["ctx"], _svc(request)
    if not ctx.is_admin:
        raise Forbidden("(rule:get_quota) is disallowed by policy", type="PolicyNotAuthorized")
    projects = store_quota.projects_with_limits(svc.reader.conn)
    return json_response({"quotas": [_body(p, store_quota.limits(svc, p)) for p in projects]})


async def show(request: web.Request) -> web.Response:
    project = request.match_info["project_id"]
    _check(request, "get_quota", project)
    return json_response({"quota": store_quota.limits(_svc(request), project)})


async def defaults(request: web.Request) -> web.Response:
    project = request.match_info["project_id"]
    _check(request, "get_quota", project)
    return json_response({"quota": store_quota.defaults(_svc(request).cfg)})


async def details(request: web.Request) -> web.Response:
    """used: resources that exist; reserved: slots held by creates still in flight."""
    svc, project = _svc(request), request.match_info["project_id"]
    _check(request, "get_quota", project)
    conn = svc.reader.conn
    limits = store_quota.limits(svc, project)
    out = {r: {"limit": n, "used": store_quota.used(conn, project, r),
               "reserved": store_quota.reserved_count(conn, project, r)} for r, n in limits.items()}
    return json_response({"quota": out})


async def update(request: web.Request) -> web.Response:
    ctx, svc, project = request["ctx"], _svc(request), request.match_info["project_id"]
    _check(request, "update_quota", project)
    limits = decide.validate_limits(await read_json(request), decide.RESOURCES)
    await _publish(svc, ctx, project, QuotaLimitsSet(project_id=project, limits=limits), "set")
    return json_response({"quota": store_quota.limits(svc, project)})


async def delete(request: web.Request) -> web.Response:
    ctx, svc, project = request["ctx"], _svc(request), request.match_info["project_id"]
    _check(request, "delete_quota", project)
    await _publish(svc, ctx, project, QuotaLimitsReset(project_id=project), "reset")
    return web.Response(status=204)


async def _publish(svc, ctx, project: str, event, step: str) -> None:
    # Limits are last-writer-wins per resource (as Neutron's quota table): no expectation.
    pub = Publication(subject=svc.subjects.aggregate("quota", host_token(project)), kind="quota", aggregate_id=project,
                      event=event, step=f"quota-{step}")
    await svc.writer.execute(ctx, Plan(facts=(pub,), resource_id=project))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v2.0/quotas", index)
    router.add_get("/v2.0/quotas/{project_id}", show)
    router.add_put("/v2.0/quotas/{project_id}", update)
    router.add_delete("/v2.0/quotas/{project_id}", delete)
    router.add_get("/v2.0/quotas/{project_id}/default", defaults)
    router.add_get("/v2.0/quotas/{project_id}/details", details)
