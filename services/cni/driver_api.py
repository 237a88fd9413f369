"""The plugin's Neutron API client (I/O only): resolve names, create/adopt/delete ports.

Short-lived process, blocking calls: urllib with a timeout, no event loop. An API that
does not answer is a transient condition for the runtime (CNI code 11); a 4xx is the
configuration's fault (code 7 when a named resource is missing, else 101).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

from .spec import E_AGAIN, E_API, E_CONFIG, ApiConf, CniError


class Api:
    def __init__(self, conf: ApiConf) -> None:
        self.conf, self.base = conf, conf.url.rstrip("/")
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if conf.project_id:
            self.headers["X-Project-Id"] = conf.project_id
        token = conf.token or (self._keystone_token() if conf.auth_url else "")
        if token:
            self.headers["X-Auth-Token"] = token

    def _keystone_token(self) -> str:
        c = self.conf
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": c.username, "password": c.password, "domain": {"name": c.user_domain_name}}}},
            "scope": {"project": {"name": c.project_name, "domain": {"name": c.project_domain_name}}}}}
        req = urllib.request.Request(c.auth_url.rstrip("/") + "/v3/auth/tokens", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=c.timeout) as resp:
                return resp.headers["X-Subject-Token"]
        except urllib.error.HTTPError as exc:
            raise CniError(E_CONFIG, f"keystone refused the credentials: {exc.code}") from None
        except OSError as exc:
            raise CniError(E_AGAIN, f"keystone at {c.auth_url} unreachable", str(exc)) from None

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        req = urllib.request.Request(self.base + path, method=method, headers=self.headers,
                                     data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(req, timeout=self.conf.timeout) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw) if raw else None
            except ValueError:
                return exc.code, {"raw": raw.decode(errors="replace")}
        except OSError as exc:
            raise CniError(E_AGAIN, f"netledger API at {self.base} unreachable", str(exc)) from None

    def ok(self, method: str, path: str, body: dict | None = None, accept=(200, 201, 204)) -> dict | None:
        status, out = self.call(method, path, body)
        if status not in accept:
            raise CniError(E_API, f"{method} {path} -> {status}", json.dumps(out)[:500])
        return out

    def list(self, collection: str, **filters: str) -> list[dict]:
        q = urllib.parse.urlencode(filters)
        return self.ok("GET", f"/v2.0/{collection}" + (f"?{q}" if q else ""))[collection.replace("-", "_")]

    def find(self, collection: str, ref: str, **filters: str) -> dict:
        """By id, else by unique name (what `openstack ... show NAME` does)."""
        kind = collection[:-1].replace("-", "_")
        status, out = self.call("GET", f"/v2.0/{collection}/{urllib.parse.quote(ref, safe='')}")
        if status == 200:
            return out[kind]
        hits = self.list(collection, name=ref, **filters)
        if len(hits) != 1:
            what = "no" if not hits else f"{len(hits)}"
            raise CniError(E_CONFIG, f"{what} {kind.replace('_', ' ')} named or with id {ref!r}")
        return hits[0]

    def port(self, port_id: str) -> dict | None:
        status, out = self.call("GET", f"/v2.0/ports/{port_id}")
        return out["port"] if status == 200 else None

    def delete_port(self, port_id: str) -> None:
        self.ok("DELETE", f"/v2.0/ports/{port_id}", accept=(204, 404))

    def wait_active(self, port_id: str, timeout: float) -> dict:
        deadline, delay = time.monotonic() + timeout, 0.05
        while True:
            port = self.port(port_id)
            if port is None:
                raise CniError(E_API, f"port {port_id} vanished while waiting for ACTIVE")
            if port["status"] == "ACTIVE":
                return port
            if time.monotonic() > deadline:
                raise CniError(E_AGAIN, f"port {port_id} not ACTIVE after {timeout:g}s (status {port['status']})",
                               "is an L2 worker running for this host?")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
