"""Shared request plumbing: JSON bodies, If-Match, fields, ids, list/show responses."""

from __future__ import annotations

import uuid

import msgspec
from aiohttp import web

from netledger.errors import BadRequest, PreconditionFailed

from . import query

ID_NAMESPACE = uuid.UUID("6f1c1a52-6a43-4f0e-9d0e-6e65746c6467")


def json_response(body: dict, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(body), status=status, content_type="application/json")


async def read_json(request: web.Request):
    raw = await request.read()
    if not raw:
        raise BadRequest("Request body required")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"Malformed request body: {exc}", type="HTTPBadRequest") from None


def new_resource_id(ctx, kind: str, index: int = 0) -> str:
    """Deterministic from the idempotency key (a retried create names the same resource)."""
    if ctx.idempotency_key:
        return str(uuid.uuid5(ID_NAMESPACE, f"{ctx.idempotency_key}/{kind}/{index}"))
    return str(uuid.uuid4())


def check_if_match(request: web.Request, current: dict) -> None:
    """``If-Match: revision_number=N`` (several may be given, any may match)."""
    header = request.headers.get("If-Match")
    if not header:
        return
    wanted = []
    for part in header.split(","):
        part = part.strip()
        if not part.startswith("revision_number="):
            raise BadRequest(f"Unsupported If-Match constraint '{part}'; use revision_number=N")
        try:
            wanted.append(int(part.split("=", 1)[1]))
        except ValueError:
            raise BadRequest(f"Invalid revision number in If-Match: '{part}'") from None
    if current.get("revision_number") not in wanted:
        raise PreconditionFailed(
            f"Constrained update failed: current revision_number is {current.get('revision_number')}, "
            f"expected one of {wanted}", type="RevisionNumberConstraintFailed")


def fields_of(request: web.Request) -> tuple[str, ...]:
    return tuple(v for k, v in request.query.items() if k == "fields" and v)


def show(body: dict, request: web.Request, kind: str) -> web.Response:
    fields = fields_of(request)
    return json_response({kind: query.project_fields(body, fields) if fields else body})


def list_response(request: web.Request, reader, kind: str, collection: str, attributes: frozenset[str],
                  *, shared_visible: bool = False) -> web.Response:
    params = list(request.query.items())
    q = query.parse_list_query(params, attributes=attributes)
    ctx = request["ctx"]
    rows = reader.list(kind, q, ctx.scope(), shared_visible=shared_visible)
    base = f"{request.scheme}://{request.host}"
    return json_response(query.page_result(rows, q, collection=collection, url_base=base,
                                           path=request.path, params=params))
