"""Nova's ``POST /v2.1/os-server-external-events`` with a service user's Keystone token.

The token (password auth of ``nova_user``, project-scoped) is kept until a minute
before it expires, and renewed once when Nova answers 401.
"""

from __future__ import annotations

import time

import aiohttp
import msgspec
import structlog

from .decide import NovaEvent

log = structlog.get_logger("nova")


def parse_time(text: str) -> float:
    """Keystone's ISO 8601 expires_at as a Unix time."""
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class NovaRetry(RuntimeError):
    """Nova or Keystone did not take the batch now; try again later."""


class NovaClient:
    def __init__(self, cfg) -> None:
        self.cfg = cfg
        base = cfg.nova_url.rstrip("/")
        self.url = (base if base.endswith("/v2.1") else base + "/v2.1") + "/os-server-external-events"
        self.keystone = (cfg.nova_keystone_url or cfg.keystone_url).rstrip("/")
        self.session: aiohttp.ClientSession | None = None
        self.token: tuple[str, float] | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self.session

    async def close(self) -> None:
        if self.session:
            await self.session.close()

    async def _token(self) -> str:
        if not self.keystone:
            return ""
        if self.token and self.token[1] - 60 > time.time():
            return self.token[0]
        cfg = self.cfg
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": cfg.nova_user, "password": cfg.nova_password, "domain": {"name": cfg.nova_user_domain}}}},
            "scope": {"project": {"name": cfg.nova_project, "domain": {"name": cfg.nova_project_domain}}}}}
        try:
            async with self._http().post(f"{self.keystone}/v3/auth/tokens", json=body) as resp:
                if resp.status != 201:
                    raise NovaRetry(f"keystone answered {resp.status} for the nova service user")
                data = await resp.json()
                self.token = (resp.headers["X-Subject-Token"], parse_time(data["token"]["expires_at"]))
        except aiohttp.ClientError as exc:
            raise NovaRetry(f"keystone: {exc!r}") from exc
        return self.token[0]

    async def send(self, events: list[NovaEvent], *, renewed: bool = False) -> None:
        """One POST. Raises NovaRetry for what may succeed later (5xx, no answer, 401)."""
        token = await self._token()
        headers = {"Content-Type": "application/json", "X-OpenStack-Nova-API-Version": "2.1",
                   "OpenStack-API-Version": "compute 2.1"}
        if token:
            headers["X-Auth-Token"] = token
        payload = msgspec.json.encode({"events": events})
        try:
            async with self._http().post(self.url, data=payload, headers=headers) as resp:
                status, text = resp.status, await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise NovaRetry(f"nova: {exc!r}") from exc
        if status == 401 and not renewed:
            self.token = None
            return await self.send(events, renewed=True)
        if status in (200, 207):
            _log_codes(status, text)
        elif status == 404:
            log.info("nova knows none of these instances", events=len(events))   # as Neutron: dropped
        elif status >= 500 or status == 401:
            raise NovaRetry(f"nova answered {status}: {text[:200]}")
        else:
            log.error("nova refused events", status=status, body=text[:500])


def _log_codes(status: int, text: str) -> None:
    try:
        answered = msgspec.json.decode(text).get("events", [])
    except (msgspec.DecodeError, AttributeError):
        log.error("nova answered an unreadable body", status=status)
        return
    for item in answered:
        if item.get("code") != 200:
            log.warning("nova event failed", event=item)
    log.info("nova events sent", status=status, events=len(answered))
