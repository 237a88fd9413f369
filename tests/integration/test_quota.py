"""Quotas: the /v2.0/quotas API and OverQuota on create (Neutron's shapes)."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.test_api_support import neutron_error
from tests.support import Client, destroy_stack, start_stack

# Neutron's stock defaults, given to this module's stack as configuration.
DEFAULTS = {"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
            "security_group": 10, "security_group_rule": 100, "rbac_policy": 10}


@pytest.fixture(scope="module")
def api(nats_server):
    env = {f"NETLEDGER_QUOTA_{k.upper()}": str(v) for k, v in DEFAULTS.items()}
    s = start_stack(nats_server, extra_env=env)
    try:
        yield s.api
    finally:
        destroy_stack(s)


def member(api: Client) -> Client:
    return Client(api.base, {"X-Project-Id": "q" + uuid.uuid4().hex[:10], "X-Roles": "member"})


def test_show_update_delete_default_and_list(api):
    c = member(api)
    project = c.headers["X-Project-Id"]
    assert c.get(f"/v2.0/quotas/{project}") == (200, {"quota": DEFAULTS})
    assert api.get(f"/v2.0/quotas/{project}/default") == (200, {"quota": DEFAULTS})
    neutron_error(*c.put(f"/v2.0/quotas/{project}", {"quota": {"network": 1000}}), 403, "PolicyNotAuthorized")
    neutron_error(*c.get("/v2.0/quotas"), 403)
    neutron_error(*member(api).get(f"/v2.0/quotas/{project}"), 403)
    status, body = api.put(f"/v2.0/quotas/{project}", {"quota": {"network": 3, "port": -1}})
    assert status == 200 and body["quota"] == {**DEFAULTS, "network": 3, "port": -1}
    listed = {q["project_id"]: q for q in api.get("/v2.0/quotas")[1]["quotas"]}
    assert listed[project]["network"] == 3 and listed[project]["tenant_id"] == project
    neutron_error(*api.put(f"/v2.0/quotas/{project}", {"quota": {"nets": 3}}), 400)
    neutron_error(*api.put(f"/v2.0/quotas/{project}", {"quota": {"network": -2}}), 400)
    neutron_error(*api.put(f"/v2.0/quotas/{project}", {"quota": {"network": "x"}}), 400)
    assert api.delete(f"/v2.0/quotas/{project}")[0] == 204
    assert c.get(f"/v2.0/quotas/{project}")[1] == {"quota": DEFAULTS}
    assert project not in {q["project_id"] for q in api.get("/v2.0/quotas")[1]["quotas"]}


def test_over_quota_and_details(api):
    c = member(api)
    project = c.headers["X-Project-Id"]
    api.put(f"/v2.0/quotas/{project}", {"quota": {"network": 2, "subnet": 1}})
    nets = [c.create("network", name=f"n{i}") for i in range(2)]
    err = neutron_error(*c.post("/v2.0/networks", {"network": {"name": "n3"}}), 409, "OverQuota")
    assert err["message"] == "Quota exceeded for resources: ['network']."
    c.create("subnet", network_id=nets[0]["id"], cidr="10.80.0.0/24", ip_version=4)
    neutron_error(*c.post("/v2.0/subnets", {"subnet": {"network_id": nets[1]["id"], "cidr": "10.81.0.0/24",
                                                       "ip_version": 4}}), 409, "OverQuota")
    details = c.get(f"/v2.0/quotas/{project}/details")[1]["quota"]
    assert details["network"] == {"limit": 2, "used": 2, "reserved": 0}
    assert details["subnet"] == {"limit": 1, "used": 1, "reserved": 0}
    assert details["port"] == {"limit": 500, "used": 0, "reserved": 0}
    assert set(details) == set(DEFAULTS)
    # Deleting frees the unit (the network's subnet with it).
    assert c.delete(f"/v2.0/networks/{nets[0]['id']}")[0] == 204
    third = c.create("network", name="n3")
    c.create("subnet", network_id=third["id"], cidr="10.82.0.0/24", ip_version=4)
    # An admin creating for the project is charged to the project.
    neutron_error(*api.post("/v2.0/networks", {"network": {"name": "x", "project_id": project}}), 409, "OverQuota")
    # Raising the limit takes effect at once.
    api.put(f"/v2.0/quotas/{project}", {"quota": {"network": 3}})
    c.create("network", name="n4")


def test_bulk_over_quota_creates_nothing_and_holds_nothing(api):
    c = member(api)
    project = c.headers["X-Project-Id"]
    net = c.create("network", name="n")
    c.create("subnet", network_id=net["id"], cidr="10.83.0.0/24", ip_version=4)
    api.put(f"/v2.0/quotas/{project}", {"quota": {"port": 2}})
    status, body = c.post("/v2.0/ports", {"ports": [{"network_id": net["id"]} for _ in range(3)]})
    neutron_error(status, body, 409, "OverQuota")
    assert c.get("/v2.0/ports")[1]["ports"] == []
    assert c.get(f"/v2.0/quotas/{project}/details")[1]["quota"]["port"] == {"limit": 2, "used": 0, "reserved": 0}
    status, body = c.post("/v2.0/ports", {"ports": [{"network_id": net["id"]} for _ in range(2)]})
    assert status == 201 and len(body["ports"]) == 2


def test_a_failed_create_gives_its_unit_back(api):
    c = member(api)
    project = c.headers["X-Project-Id"]
    net = c.create("network", name="n")
    c.create("subnet", network_id=net["id"], cidr="10.84.0.0/24", ip_version=4)
    api.put(f"/v2.0/quotas/{project}", {"quota": {"port": 1}})
    neutron_error(*c.post("/v2.0/ports", {"port": {"network_id": net["id"],
                                                   "fixed_ips": [{"ip_address": "10.99.0.5"}]}}), 400)
    c.create("port", network_id=net["id"])
    neutron_error(*c.post("/v2.0/ports", {"port": {"network_id": net["id"]}}), 409, "OverQuota")


def test_routers_and_floating_ips_are_counted_and_enforced(api):
    c = member(api)
    project = c.headers["X-Project-Id"]
    ext = api.create("network", name="ext-q", **{"router:external": True})
    api.create("subnet", network_id=ext["id"], cidr="198.51.100.0/24", ip_version=4)
    api.put(f"/v2.0/quotas/{project}", {"quota": {"router": 1, "floatingip": 1}})
    router = c.create("router", name="r1")
    neutron_error(*c.post("/v2.0/routers", {"router": {"name": "r2"}}), 409, "OverQuota")
    fip = c.create("floatingip", floating_network_id=ext["id"])
    neutron_error(*c.post("/v2.0/floatingips", {"floatingip": {"floating_network_id": ext["id"]}}), 409,
                  "OverQuota")
    details = c.get(f"/v2.0/quotas/{project}/details")[1]["quota"]
    assert details["router"]["used"] == 1 and details["floatingip"]["used"] == 1
    assert c.delete(f"/v2.0/routers/{router['id']}")[0] == 204
    assert c.delete(f"/v2.0/floatingips/{fip['id']}")[0] == 204
    c.create("router", name="r2")
    c.create("floatingip", floating_network_id=ext["id"])
