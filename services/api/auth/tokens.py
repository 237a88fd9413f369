"""Validated-token cache (pure: the clock is passed in).

Invariant: an entry is served only while ``now < min(validated_at + ttl, expires_at)``,
so a cached token never outlives its own expiry and a revoked token stops working at
most ``ttl`` seconds after Keystone revoked it. The cache is bounded; the entries
closest to their end are dropped first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from .policy import Credentials


@dataclass(frozen=True)
class TokenInfo:
    """The parts of a Keystone v3 token the API uses."""

    creds: Credentials
    expires_at: float            # epoch seconds
    user_name: str = ""


def parse_time(text: str) -> float:
    """Keystone's ``2026-11-29T04:10:00.000000Z`` -> epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()


def token_info(body: dict) -> TokenInfo:
    """From the body of ``GET /v3/auth/tokens`` (project-scoped or not)."""
    token = body["token"]
    user = token.get("user") or {}
    project = token.get("project") or {}
    domain = (project.get("domain") or {}).get("id") or (user.get("domain") or {}).get("id", "")
    roles = tuple(sorted({r["name"].lower() for r in token.get("roles") or ()}))
    creds = Credentials(user_id=user.get("id", ""), project_id=project.get("id", ""), domain_id=domain,
                        roles=roles, is_admin="admin" in roles)
    return TokenInfo(creds=creds, expires_at=parse_time(token["expires_at"]), user_name=user.get("name", ""))


class TokenCache:
    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._items: dict[str, tuple[float, TokenInfo]] = {}

    def get(self, token: str, now: float) -> TokenInfo | None:
        item = self._items.get(token)
        if item is None:
            return None
        until, info = item
        if now >= until:
            del self._items[token]
            return None
        return info

    def put(self, token: str, info: TokenInfo, now: float) -> None:
        until = min(now + self.ttl, info.expires_at)
        if until <= now:
            return
        if len(self._items) >= self.max_entries:
            self._evict()
        self._items[token] = (until, info)

    def _evict(self) -> None:
        victims = sorted(self._items, key=lambda t: self._items[t][0])[: max(1, self.max_entries // 10)]
        for token in victims:
            del self._items[token]
