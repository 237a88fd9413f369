"""HTTP helpers shared by the Octavia handlers: Octavia's error body, list filtering."""

from __future__ import annotations

import functools

import structlog
from aiohttp import web

from netledger.errors import NeutronError

from ..commands.octavia import require_member
from .common import json_response

log = structlog.get_logger("api.octavia")


COLLECTIONS = {"listener": "listeners", "pool": "pools", "member": "members", "healthmonitor": "healthmonitors",
               "l7policy": "l7policies", "l7rule": "rules"}


def octavia_errors(fn):
    """Octavia's error body: {"faultcode": "Client"|"Server", "faultstring", "debuginfo"}."""
    @functools.wraps(fn)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            if request.method in ("POST", "PUT", "DELETE"):
                require_member(request["ctx"])
            return await fn(request)
        except NeutronError as exc:
            return _fault(exc.status, exc.message)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("unhandled error", method=request.method, path=request.path)
            return _fault(500, "Internal Server Error")
    return wrapped


def _fault(status: int, message: str) -> web.Response:
    return json_response({"faultcode": "Client" if status < 500 else "Server", "faultstring": message,
                          "debuginfo": None}, status=status)


def _filtered(request: web.Request, bodies: list[dict], collection: str, given: tuple[str, ...] = ()) -> web.Response:
    """Equality filters on scalar attributes, ``fields``, ``limit``/``marker``; ``given``
    names filters the caller already applied (a parent id from the URL)."""
    params = [(k, v) for k, v in request.query.items()]
    fields = [v for k, v in params if k == "fields"]
    for k, v in params:
        if k in ("fields", "limit", "marker", "sort", "sort_key", "sort_dir", "page_reverse", *given):
            continue
        bodies = [b for b in bodies if k in b and _matches(b[k], v)]
    marker = request.query.get("marker")
    if marker:
        ids = [b["id"] for b in bodies]
        bodies = bodies[ids.index(marker) + 1:] if marker in ids else []
    limit = request.query.get("limit")
    links = []
    if limit and limit.isdigit() and int(limit) < len(bodies):
        bodies = bodies[:int(limit)]
        links = [{"rel": "next", "href": f"{request.scheme}://{request.host}{request.path}?limit={limit}"
                  f"&marker={bodies[-1]['id']}"}]
    if fields:
        bodies = [{k: b[k] for k in fields if k in b} for b in bodies]
    return json_response({collection: bodies, f"{collection}_links": links})


def _matches(value, wanted: str) -> bool:
    if isinstance(value, bool):
        return str(value).lower() == wanted.lower()
    return str(value) == wanted


def _svc(request):
    return request.app["svc"]
