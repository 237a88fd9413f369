"""Pure: a command subject (and its body) as the equivalent Neutron REST request.

Scheme (request/reply on core NATS, answered by any API replica):

``<prefix>.cmd.<collection>.create``            POST   /v2.0/<collection>         body as REST
``<prefix>.cmd.<collection>.list``              GET    /v2.0/<collection>?<query> body {"name": value|[values]}
``<prefix>.cmd.<collection>.get.<id>``          GET    /v2.0/<collection>/<id>
``<prefix>.cmd.<collection>.update.<id>``       PUT    /v2.0/<collection>/<id>    body as REST
``<prefix>.cmd.<collection>.delete.<id>``       DELETE /v2.0/<collection>/<id>
``<prefix>.cmd.<collection>.<action>.<id>``     PUT    /v2.0/<collection>/<id>/<action> (add_router_interface...)
``<prefix>.cmd.port.bind.<id>``                 PUT    /v2.0/ports/<id>  (what Nova does to bind a port)

<collection> is the REST one (networks, ports, security-groups, floatingips, ...).
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import msgspec

VERBS_WITH_ID = {"get": "GET", "update": "PUT", "delete": "DELETE"}


class Route(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    path: str
    body: dict | None = None


class BadCommand(ValueError):
    """The subject or body does not name a request (answered as Neutron's 400/404)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _body(data: bytes) -> dict | None:
    if not data.strip():
        return None
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise BadCommand(400, f"Malformed JSON body: {exc}") from None
    if not isinstance(body, dict):
        raise BadCommand(400, "The body must be a JSON object")
    return body


def route(prefix: str, subject: str, data: bytes) -> Route:
    head = f"{prefix}.cmd."
    if not subject.startswith(head):
        raise BadCommand(404, f"Not a command subject: {subject}")
    parts = subject[len(head):].split(".")
    body = _body(data)
    if parts[:2] == ["port", "bind"] and len(parts) == 3:
        return Route(method="PUT", path=f"/v2.0/ports/{quote(parts[2], safe='')}", body=body)
    if len(parts) == 2 and parts[1] == "create":
        return Route(method="POST", path=f"/v2.0/{parts[0]}", body=body)
    if len(parts) == 2 and parts[1] == "list":
        pairs = [(k, v) for k, vs in (body or {}).items() for v in (vs if isinstance(vs, list) else [vs])]
        return Route(method="GET", path=f"/v2.0/{parts[0]}" + (f"?{urlencode(pairs)}" if pairs else ""))
    if len(parts) == 3:
        collection, verb, rid = parts
        member = f"/v2.0/{collection}/{quote(rid, safe='')}"
        if verb in VERBS_WITH_ID:
            return Route(method=VERBS_WITH_ID[verb], path=member, body=body if verb == "update" else None)
        return Route(method="PUT", path=f"{member}/{verb}", body=body)
    raise BadCommand(404, f"Unknown command subject: {subject}")


def headers_for(nats_headers: dict | None) -> dict:
    """REST headers of a command: auth/project/role headers as sent; ``Nats-Msg-Id`` is
    the request's idempotency key (a retried command acts once, as X-Idempotency-Key)."""
    hdrs = {k: v for k, v in (nats_headers or {}).items()
            if k.lower() in ("x-auth-token", "x-project-id", "x-tenant-id", "x-user-id", "x-roles",
                             "x-idempotency-key", "if-match")}
    msg_id = (nats_headers or {}).get("Nats-Msg-Id")
    if msg_id and not any(k.lower() == "x-idempotency-key" for k in hdrs):
        hdrs["X-Idempotency-Key"] = msg_id
    return hdrs
