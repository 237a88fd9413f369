"""Who is asking: request id, user, project, roles (Keystone token or noauth headers)."""

from __future__ import annotations

import uuid

from netledger.libs.events.base import Struct
from netledger.libs.events.envelope import Actor

# Keystone's default implied roles (bootstrap creates admin -> member -> reader).
IMPLIED = {"admin": ("member", "reader"), "member": ("reader",)}


def expand_roles(roles) -> tuple[str, ...]:
    """Roles plus the ones they imply, lower-cased and sorted (deterministic)."""
    out = set()
    for role in roles:
        role = role.strip().lower()
        if role:
            out.add(role)
            out.update(IMPLIED.get(role, ()))
    return tuple(sorted(out))


class RequestContext(Struct, frozen=True, kw_only=True):
    request_id: str
    project_id: str
    user_id: str = ""
    domain_id: str = ""
    roles: tuple[str, ...] = ()
    is_admin: bool = False
    idempotency_key: str = ""

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, project_id=self.project_id, is_admin=self.is_admin)

    @property
    def is_service(self) -> bool:
        """Compute orchestrators (Nova) binding ports hold the ``service`` role."""
        return "service" in self.roles

    def scope(self, kind: str | None = None) -> str | None:
        """The project a read is limited to; None for admins (they see everything), and
        for the service role on ports (Nova binds ports of every project)."""
        if self.is_admin or (kind == "port" and self.is_service):
            return None
        return self.project_id

    def msg_id(self, step: str) -> str:
        """Deterministic JetStream message id: a retried request dedupes per step."""
        return f"{self.idempotency_key or self.request_id}:{step}"


def new_request_id() -> str:
    # Always our own id: it seeds JetStream message ids, so a client-chosen value reused
    # across two different requests would silently dedupe the second one.
    return f"req-{uuid.uuid4()}"


def context_from_headers(headers, *, default_project: str, default_admin: bool) -> RequestContext:
    """noauth: ``X-Project-Id`` picks the project (an operator's request without it is
    the configured default project with the admin role); ``X-Roles`` lists roles
    (``admin``, ``member``, ``reader``, ``service``); without it a project's caller is a
    member, as every client was before roles existed."""
    project = headers.get("X-Project-Id") or headers.get("X-Tenant-Id")
    given = [r for r in headers.get("X-Roles", "").split(",") if r.strip()]
    if not given:
        given = ["admin"] if project is None and default_admin else ["member"]
    roles = expand_roles(given)
    return RequestContext(
        request_id=new_request_id(), project_id=project or default_project,
        user_id=headers.get("X-User-Id", ""), roles=roles, is_admin="admin" in roles,
        idempotency_key=headers.get("X-Idempotency-Key", ""),
    )
