"""Keystone v3 token validation over HTTP (aiohttp client): the only I/O of auth.

The API authenticates as its service user (password, project-scoped), keeps that
token until shortly before it expires, and validates each caller's token with
``GET /v3/auth/tokens`` (``X-Subject-Token``). Results go through TokenCache, so a
revoked token is refused within ``token_cache_ttl`` seconds.
"""

from __future__ import annotations

import time

import aiohttp
import structlog

from .tokens import TokenCache, TokenInfo, parse_time, token_info

log = structlog.get_logger("api.auth")


class KeystoneUnavailable(RuntimeError):
    """Keystone did not answer usefully (the caller gets 503, not 401)."""


class KeystoneValidator:
    def __init__(self, cfg) -> None:
        self.url = cfg.keystone_url.rstrip("/")
        self.cfg = cfg
        self.cache = TokenCache(cfg.token_cache_ttl)
        self._session: aiohttp.ClientSession | None = None
        self._service: tuple[str, float] | None = None   # (token, expires_at)

    @property
    def www_authenticate(self) -> str:
        return f'Keystone uri="{self.url}"'

    async def close(self) -> None:
        if self._session:
            await self._session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self._session

    async def validate(self, token: str) -> TokenInfo | None:
        """The token's identity, or None if Keystone says it is not valid (now)."""
        now = time.time()
        cached = self.cache.get(token, now)
        if cached is not None:
            return cached
        info = await self._fetch(token, retry=True)
        if info is not None:
            self.cache.put(token, info, time.time())
        return info

    async def _fetch(self, token: str, *, retry: bool) -> TokenInfo | None:
        headers = {"X-Auth-Token": await self._service_token(), "X-Subject-Token": token}
        try:
            async with self._http().get(f"{self.url}/v3/auth/tokens", headers=headers) as resp:
                if resp.status == 200:
                    info = token_info(await resp.json())
                    return info if info.expires_at > time.time() else None
                if resp.status == 401 and retry:
                    self._service = None   # our own token went stale: get a new one, once
                    return await self._fetch(token, retry=False)
                if resp.status in (401, 403, 404):
                    return None
                raise KeystoneUnavailable(f"token validation answered {resp.status}")
        except aiohttp.ClientError as exc:
            raise KeystoneUnavailable(repr(exc)) from exc

    async def _service_token(self) -> str:
        if self._service and self._service[1] - 60 > time.time():
            return self._service[0]
        cfg = self.cfg
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": cfg.keystone_service_user, "password": cfg.keystone_service_password,
                "domain": {"name": cfg.keystone_service_user_domain}}}},
            "scope": {"project": {"name": cfg.keystone_service_project,
                                  "domain": {"name": cfg.keystone_service_project_domain}}}}}
        try:
            async with self._http().post(f"{self.url}/v3/auth/tokens", json=body) as resp:
                if resp.status != 201:
                    raise KeystoneUnavailable(f"service user authentication answered {resp.status}")
                data = await resp.json()
                self._service = (resp.headers["X-Subject-Token"], parse_time(data["token"]["expires_at"]))
        except aiohttp.ClientError as exc:
            raise KeystoneUnavailable(repr(exc)) from exc
        log.info("service token obtained", user=cfg.keystone_service_user)
        return self._service[0]
