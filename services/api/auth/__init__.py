"""Identity and access for the API: who the caller is, and what Neutron's policy lets
them do.

``Auth.context(request)``: noauth (headers) or keystone (``X-Auth-Token`` validated
against Keystone, cached). ``Auth.enforce(request, ctx)``: the request's rule (and the
rules of the attributes it sets) against the target. Invariant, as Neutron: a
resource the caller cannot see answers 404 from the handler; one they can see but may
not change answers 403 here.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from netledger.errors import Forbidden, ServiceUnavailable, Unauthorized

from ..context import RequestContext, context_from_headers, expand_roles
from .actions import Action, action_for, fallback_rule
from .policy import Credentials, Policy
from .rules import load_policy

log = structlog.get_logger("api.auth")

# Resources whose own row (in <kind>s_v) is the target of update/delete rules.
VIEWED = ("network", "subnet", "port", "router", "floatingip", "security_group")


class TokenRejected(Unauthorized):
    """401 with Keystone's ``WWW-Authenticate`` header (clients re-authenticate)."""

    def __init__(self, message: str, *, www_authenticate: str) -> None:
        super().__init__(message, type="HTTPUnauthorized")
        self.headers = {"WWW-Authenticate": www_authenticate}


def creds_of(ctx: RequestContext) -> Credentials:
    return Credentials(user_id=ctx.user_id, project_id=ctx.project_id, domain_id=ctx.domain_id,
                       roles=ctx.roles, is_admin=ctx.is_admin)


def permits(policy: Policy, rule: str, ctx: RequestContext, target: dict | None = None) -> bool:
    """Every authorization decision of the API, by Neutron's rule name: the target is
    the caller's own project plus what the caller names (so a policy file decides)."""
    own = {"project_id": ctx.project_id, "tenant_id": ctx.project_id}
    return policy.enforce(rule, creds_of(ctx), {**own, **(target or {})})


def require(policy: Policy, rule: str, ctx: RequestContext, target: dict | None = None) -> None:
    if not permits(policy, rule, ctx, target):
        raise Forbidden(f"(rule:{rule}) is disallowed by policy", type="PolicyNotAuthorized")


class Auth:
    def __init__(self, cfg) -> None:
        self.cfg = cfg
        self.policy: Policy = load_policy(cfg.policy_file or None)
        self.keystone = None
        if cfg.auth_strategy == "keystone":
            from .driver_keystone import KeystoneValidator

            self.keystone = KeystoneValidator(cfg)
        elif cfg.auth_strategy != "noauth":
            raise ValueError(f"auth_strategy must be 'noauth' or 'keystone', not {cfg.auth_strategy!r}")

    async def close(self) -> None:
        if self.keystone:
            await self.keystone.close()

    async def context(self, request: web.Request, request_id: str) -> RequestContext:
        headers = request.headers
        if self.keystone is None:
            ctx = context_from_headers(headers, default_project=self.cfg.default_project,
                                       default_admin=self.cfg.noauth_default_admin)
            return RequestContext(**{**_fields(ctx), "request_id": request_id})
        token = headers.get("X-Auth-Token", "")
        if not token:
            raise TokenRejected("Authentication required", www_authenticate=self.keystone.www_authenticate)
        from .driver_keystone import KeystoneUnavailable

        try:
            info = await self.keystone.validate(token)
        except KeystoneUnavailable as exc:
            log.warning("keystone unavailable", error=str(exc))
            raise ServiceUnavailable("The identity service is unavailable; please retry.") from None
        if info is None:
            raise TokenRejected("Authentication required", www_authenticate=self.keystone.www_authenticate)
        c = info.creds
        roles = expand_roles(c.roles)
        return RequestContext(request_id=request_id, project_id=c.project_id, user_id=c.user_id,
                              domain_id=c.domain_id, roles=roles, is_admin="admin" in roles,
                              idempotency_key=headers.get("X-Idempotency-Key", ""))

    def allowed(self, rule: str, ctx: RequestContext, target: dict) -> bool:
        return self.policy.enforce(rule, creds_of(ctx), target)

    async def enforce(self, request: web.Request, ctx: RequestContext) -> None:
        """Raise 403 if the request's rule or an attribute rule denies it."""
        action = action_for(request.method, request.path)
        if action is None:
            return
        target = await self._target(request, ctx, action)
        if target is None:
            return  # not the caller's to see: the handler answers 404
        rule = action.name if self.policy.has(action.name) else fallback_rule(action)
        if not self.allowed(rule, ctx, target):
            raise Forbidden(f"(rule:{action.name}) is disallowed by policy", type="PolicyNotAuthorized")
        if action.verb in ("create", "update") and not action.name.startswith(("add_", "remove_")):
            await self._attributes(request, ctx, action, target)

    async def _target(self, request: web.Request, ctx: RequestContext, action: Action) -> dict | None:
        own = {"project_id": ctx.project_id, "tenant_id": ctx.project_id}
        if action.verb == "create" or not action.resource_id:
            # The caller's own project: naming another one is the handler's 400 (as
            # Neutron checks it before the policy), or allowed for admins anyway.
            body = await _inner_body(request, action.kind) if action.verb == "create" else {}
            return self._with_network(request, {**body, **own})
        if action.kind not in VIEWED:
            return own
        svc = request.app["svc"]
        try:
            body, _ = svc.reader.get(action.kind, action.resource_id, ctx.scope(action.kind))
        except Exception:  # not visible (or no such table yet): the handler decides
            return None
        return self._with_network(request, body)

    def _with_network(self, request: web.Request, target: dict) -> dict:
        """``network:tenant_id`` for rules such as network_owner (ports, subnets)."""
        net_id = target.get("network_id")
        if isinstance(net_id, str) and net_id:
            row = request.app["svc"].reader.row("networks", net_id)
            if row is not None:
                target = {**target, "network:tenant_id": row["project_id"], "network:project_id": row["project_id"]}
        return target

    async def _attributes(self, request: web.Request, ctx: RequestContext, action: Action, target: dict) -> None:
        body = await _inner_body(request, action.kind)
        for attr, value in body.items():
            rule = f"{action.name}:{attr}"
            # On create only explicitly non-default values count (Neutron's
            # _is_attribute_explicitly_set); on update every attribute sent counts.
            if not self.policy.has(rule) or (action.verb == "create" and not value):
                continue
            if not self.allowed(rule, ctx, {**target, **body}):
                raise Forbidden(f"(rule:{rule}) is disallowed by policy", type="PolicyNotAuthorized")


def _fields(ctx: RequestContext) -> dict:
    return {f: getattr(ctx, f) for f in ctx.__struct_fields__}


async def _inner_body(request: web.Request, kind: str) -> dict:
    """The resource's attributes in a JSON body (bulk and malformed bodies: {} here;
    the handler validates them)."""
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge:
        raise   # the 413 the client must see
    except Exception:
        return {}
    inner = body.get(kind) if isinstance(body, dict) else None
    return inner if isinstance(inner, dict) else {}
