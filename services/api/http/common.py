"""Shared request plumbing: JSON bodies, If-Match, fields, ids, list/show responses."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import msgspec
from aiohttp import web

from netledger.errors import BadRequest, InvalidInput, NotFound, PreconditionFailed

from .. import query
from ..auth import permits

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


async def delete_idempotently(request: web.Request, run, subject_of) -> web.Response:
    """Run a delete; a retry of an already-done delete (same X-Idempotency-Key) answers
    204 again instead of 404. ``subject_of(id)`` is the aggregate's subject pattern."""
    ctx, svc = request["ctx"], request.app["svc"]
    try:
        await run()
    except NotFound:
        rid = request.match_info["id"]
        if not _is_uuid(rid) or not await svc.writer.replayed(ctx, subject_of(rid), "delete"):
            raise
    return web.Response(status=204)


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


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


# Attributes with a get_<kind>:<attr> rule (Neutron's defaults show them to admins
# only: provider details, port binding); the policy engine decides for each caller.
POLICED_VIEW = {
    "network": ("provider:network_type", "provider:physical_network", "provider:segmentation_id"),
    "port": ("binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details"),
}


def may(request: web.Request):
    """``may(rule, target=None)``: the policy engine's answer for this request's caller."""
    policy, ctx = request.app["auth"].policy, request["ctx"]
    return lambda rule, target=None: permits(policy, rule, ctx, target)


def hidden_fields(request: web.Request, kind: str) -> frozenset[str]:
    """Attributes this caller may not see (``get_<kind>:<attr>`` denies them). Decided
    once per request, against the caller's own project (the defaults are role rules)."""
    check = may(request)
    return frozenset(a for a in POLICED_VIEW.get(kind, ()) if not check(f"get_{kind}:{a}"))


def for_caller(body: dict, hidden: frozenset[str]) -> dict:
    """The body without the attributes the caller may not see."""
    if not hidden:
        return body
    return {k: v for k, v in body.items() if k not in hidden}


def fields_of(request: web.Request) -> tuple[str, ...]:
    return tuple(v for k, v in request.query.items() if k == "fields" and v)


def show(body: dict, request: web.Request, kind: str) -> web.Response:
    fields = fields_of(request)
    body = for_caller(body, hidden_fields(request, kind))
    return json_response({kind: query.project_fields(body, fields) if fields else body})


def respond(request: web.Request, kind: str, body: dict, status: int = 200) -> web.Response:
    """A create/update answer: the resource as the caller may see it."""
    return json_response({kind: for_caller(body, hidden_fields(request, kind))}, status=status)


def changed_since(values: list[str]) -> str | None:
    """standard-attr-timestamp's ``changed_since`` filter, as a UTC timestamp in the
    projection's format (so it compares as text against ``updated_at``)."""
    if not values:
        return None
    raw = values[-1]
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("The input changed_since must be in the following format: YYYY-MM-DDTHH:MM:SS") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_response(request: web.Request, reader, kind: str, collection: str, attributes: frozenset[str],
                  *, shared_visible: bool = False, post=None) -> web.Response:
    """One page of a collection; ``post`` maps each body (e.g. opening a sealed PSK)."""
    params = list(request.query.items())
    since = changed_since([v for k, v in params if k == "changed_since"])
    q = query.parse_list_query([(k, v) for k, v in params if k != "changed_since"], attributes=attributes)
    ctx = request["ctx"]
    rows = reader.list(kind, q, ctx.scope(kind), shared_visible=shared_visible, changed_since=since)
    hidden = hidden_fields(request, kind)
    if hidden:
        rows = [for_caller(b, hidden) for b in rows]
    if post is not None:
        rows = [post(b) for b in rows]
    base = f"{request.scheme}://{request.host}"
    return json_response(query.page_result(rows, q, collection=collection, url_base=base,
                                           path=request.path, params=params))
