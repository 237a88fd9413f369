"""Neutron-shaped errors.

Every failure a client can see is one of these; the API turns it into
``{"NeutronError": {"type": ..., "message": ..., "detail": ""}}`` with ``status``.
Deciders and validators raise them; nothing else needs to know about HTTP.
"""

from __future__ import annotations


class NeutronError(Exception):
    """Base class: an HTTP status plus Neutron's exception type name."""

    status = 500
    type = "NeutronError"

    def __init__(self, message: str, *, type: str | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        if type:
            self.type = type

    def body(self) -> dict:
        return {"NeutronError": {"type": self.type, "message": self.message, "detail": self.detail}}


class BadRequest(NeutronError):
    status = 400
    type = "HTTPBadRequest"


class InvalidInput(BadRequest):
    type = "InvalidInput"

    def __init__(self, message: str, **kw) -> None:
        super().__init__(f"Invalid input for operation: {message}", **kw)


class Unauthorized(NeutronError):
    status = 401
    type = "HTTPUnauthorized"


class Forbidden(NeutronError):
    status = 403
    type = "HTTPForbidden"


class NotFound(NeutronError):
    status = 404
    type = "HTTPNotFound"


class MethodNotAllowed(NeutronError):
    status = 405
    type = "HTTPMethodNotAllowed"


class Conflict(NeutronError):
    status = 409
    type = "HTTPConflict"


class PreconditionFailed(NeutronError):
    status = 412
    type = "PreconditionFailed"


class RequestEntityTooLarge(NeutronError):
    status = 413
    type = "HTTPRequestEntityTooLarge"


class ServiceUnavailable(NeutronError):
    status = 503
    type = "ServiceUnavailable"


def not_found(kind: str, id: str) -> NotFound:
    """Neutron's ``<Kind>NotFound`` error, e.g. NetworkNotFound."""
    pretty = {"network": "Network", "subnet": "Subnet", "port": "Port"}.get(kind, kind.replace("_", " ").title().replace(" ", ""))
    return NotFound(f"{pretty} {id} could not be found.", type=f"{pretty}NotFound")
