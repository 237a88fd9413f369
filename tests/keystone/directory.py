"""Projects, users, role assignments and catalog entries made through Keystone's own API.

Shared by the Keystone integration tests and the openstacksdk functional-suite runner,
so both set up identities the same way (admin calls with a refreshed admin token).
"""

from __future__ import annotations

import time

from . import fixture as ksfix


class Directory:
    def __init__(self, ks, password: str) -> None:
        self.ks, self.password = ks, password
        self._admin: tuple[str, float] = ("", 0.0)
        self.roles = {r["name"]: r["id"] for r in self._get("/v3/roles")["roles"]}
        self.projects: dict[str, str] = {}
        self.users: dict[str, str] = {}

    @property
    def admin_token(self) -> str:
        """A fresh enough admin token (test Keystones may issue short-lived tokens)."""
        if time.monotonic() - self._admin[1] > 20:
            self._admin = (self.ks.token("admin", ksfix.ADMIN_PASSWORD, "admin")[0], time.monotonic())
        return self._admin[0]

    def _get(self, path):
        return self.ks.call("GET", path, token=self.admin_token)[1]

    def _post(self, path, body):
        status, out, _ = self.ks.call("POST", path, body, token=self.admin_token)
        assert status == 201, (path, status, out)
        return out

    def project(self, name: str) -> str:
        self.projects[name] = self._post("/v3/projects", {"project": {"name": name, "domain_id": "default"}})[
            "project"]["id"]
        return self.projects[name]

    def user(self, name: str, project: str, role: str) -> str:
        uid = self._post("/v3/users", {"user": {"name": name, "password": self.password,
                                                 "domain_id": "default"}})["user"]["id"]
        self.grant(uid, project, role)
        self.users[name] = uid
        return uid

    def grant(self, user_id: str, project: str, role: str) -> None:
        status, *_ = self.ks.call("PUT", f"/v3/projects/{self.projects[project]}/users/{user_id}/roles/"
                                  f"{self.roles[role]}", token=self.admin_token)
        assert status == 204, (project, role, status)

    def endpoint(self, url: str, service_type: str = "network", name: str = "neutron") -> None:
        svc = self._post("/v3/services", {"service": {"type": service_type, "name": name}})["service"]
        self._post("/v3/endpoints", {"endpoint": {"service_id": svc["id"], "interface": "public", "url": url,
                                                  "region_id": "RegionOne"}})
