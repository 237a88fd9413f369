"""Revoking a share races port creates by the project it is shared with (two API
processes): afterwards the project never has ports on a network it cannot use."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.integration.test_api_support import apis, stack2  # noqa: F401  (fixtures)
from tests.support import Client


def test_revocation_racing_port_creates_leaves_no_orphan_ports(apis):
    owner_p, guest_p = "ro" + uuid.uuid4().hex[:8], "rg" + uuid.uuid4().hex[:8]
    owners = [Client(a.base, {"X-Project-Id": owner_p, "X-Roles": "member"}) for a in apis]
    guests = [Client(a.base, {"X-Project-Id": guest_p, "X-Roles": "member"}) for a in apis]
    for round_ in range(3):
        net = owners[0].create("network", name=f"race{round_}")
        owners[0].create("subnet", network_id=net["id"], cidr=f"10.13{round_}.0.0/24", ip_version=4)
        status, body = owners[0].post("/v2.0/rbac-policies", {"rbac_policy": {
            "object_type": "network", "object_id": net["id"], "action": "access_as_shared",
            "target_tenant": guest_p}})
        assert status == 201, body
        pid = body["rbac_policy"]["id"]

        def work(i):
            if i % 4 == 0:
                return "revoke", owners[i % 2].delete(f"/v2.0/rbac-policies/{pid}")[0]
            return "port", guests[i % 2].post("/v2.0/ports", {"port": {"network_id": net["id"]}})[0]

        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(work, range(12)))
        revoked = any(kind == "revoke" and code == 204 for kind, code in results)
        assert all(code in (201, 404, 409, 204) for _, code in results), results
        guest_ports = guests[0].get(f"/v2.0/ports?network_id={net['id']}")[1]["ports"]
        if revoked:
            assert guest_ports == [], results
            assert guests[1].get(f"/v2.0/networks/{net['id']}")[0] == 404
        else:
            assert owners[1].get(f"/v2.0/rbac-policies/{pid}")[0] == 200
            assert len(guest_ports) == sum(1 for kind, code in results if kind == "port" and code == 201)
