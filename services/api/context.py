"""Who is asking: request id, project, roles (from headers until Keystone lands)."""

from __future__ import annotations

import uuid

from netledger.libs.events.base import Struct
from netledger.libs.events.envelope import Actor


class RequestContext(Struct, frozen=True, kw_only=True):
    request_id: str
    project_id: str
    user_id: str = ""
    is_admin: bool = False
    idempotency_key: str = ""

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, project_id=self.project_id, is_admin=self.is_admin)

    def scope(self) -> str | None:
        """The project a read is limited to; None for admins (they see everything)."""
        return None if self.is_admin else self.project_id

    def msg_id(self, step: str) -> str:
        """Deterministic JetStream message id: a retried request dedupes per step."""
        return f"{self.idempotency_key or self.request_id}:{step}"


def context_from_headers(headers, *, default_project: str, default_admin: bool) -> RequestContext:
    """noauth: ``X-Project-Id`` picks the project (an operator's request without it is
    the configured default project with the admin role); ``X-Roles: admin`` grants admin."""
    # Always our own id: it seeds JetStream message ids, so a client-chosen value reused
    # across two different requests would silently dedupe the second one.
    rid = f"req-{uuid.uuid4()}"
    project = headers.get("X-Project-Id") or headers.get("X-Tenant-Id")
    roles = {r.strip().lower() for r in headers.get("X-Roles", "").split(",") if r.strip()}
    is_admin = "admin" in roles or (project is None and default_admin)
    return RequestContext(
        request_id=rid, project_id=project or default_project,
        user_id=headers.get("X-User-Id", ""), is_admin=is_admin,
        idempotency_key=headers.get("X-Idempotency-Key", ""),
    )
