"""Quota enforcement under concurrency: 16 clients race for the last units through
two API processes; the limit is never overshot (usage slots are claims)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.integration.test_api_support import apis, stack2  # noqa: F401  (fixtures)
from tests.support import Client

RACERS = 16


def _race(clients: list[Client], path: str, body: dict) -> list[tuple[int, dict]]:
    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(lambda i: clients[i % len(clients)].post(path, body), range(RACERS)))


def test_sixteen_clients_race_for_the_last_ports(apis):
    project = "race" + uuid.uuid4().hex[:8]
    admin = apis[0]
    members = [Client(a.base, {"X-Project-Id": project, "X-Roles": "member"}) for a in apis]
    net = members[0].create("network", name="race")
    members[0].create("subnet", network_id=net["id"], cidr="10.90.0.0/24", ip_version=4)
    members[0].create("port", network_id=net["id"])
    admin.put(f"/v2.0/quotas/{project}", {"quota": {"port": 4}})        # 3 units left
    results = _race(members, "/v2.0/ports", {"port": {"network_id": net["id"]}})
    codes = sorted(s for s, _ in results)
    assert codes.count(201) == 3, codes
    assert codes.count(409) == RACERS - 3, codes
    assert all(b["NeutronError"]["type"] == "OverQuota" for s, b in results if s == 409)
    ports = members[1].get("/v2.0/ports")[1]["ports"]
    assert len(ports) == 4
    detail = admin.get(f"/v2.0/quotas/{project}/details")[1]["quota"]["port"]
    assert detail == {"limit": 4, "used": 4, "reserved": 0}


def test_sixteen_clients_race_for_the_last_networks(apis):
    project = "race" + uuid.uuid4().hex[:8]
    admin = apis[1]
    members = [Client(a.base, {"X-Project-Id": project, "X-Roles": "member"}) for a in apis]
    admin.put(f"/v2.0/quotas/{project}", {"quota": {"network": 5}})
    results = _race(members, "/v2.0/networks", {"network": {"name": "n"}})
    codes = sorted(s for s, _ in results)
    assert codes.count(201) == 5, codes
    assert len(members[0].get("/v2.0/networks")[1]["networks"]) == 5
