"""Neutron's default policy with noauth headers: three projects, roles admin /
member / reader / service, cross-project reads and writes, admin-only attributes."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.test_api_support import neutron_error
from tests.support import Client


def as_(api: Client, project: str, roles: str) -> Client:
    return Client(api.base, {"X-Project-Id": project, "X-Roles": roles})


@pytest.fixture
def projects(api):
    """alice (member), alice's reader, bob (member), carol (member) and an admin."""
    a, b, c = ("p" + uuid.uuid4().hex[:10] for _ in range(3))
    return {"alice": as_(api, a, "member"), "alice_reader": as_(api, a, "reader"), "bob": as_(api, b, "member"),
            "carol": as_(api, c, "member"), "admin": as_(api, "ops" + a, "admin")}


def _external_net(admin: Client) -> dict:
    net = admin.create("network", name="ext", **{"router:external": True})
    admin.create("subnet", network_id=net["id"], cidr="203.0.113.0/24", ip_version=4)
    return net


def _resources(c: Client, admin: Client) -> dict[str, tuple[str, dict]]:
    """One resource of every kind owned by c's project: collection -> (kind, body)."""
    net = c.create("network", name="n")
    sub = c.create("subnet", network_id=net["id"], cidr="10.61.0.0/24", ip_version=4)
    port = c.create("port", network_id=net["id"])
    out = {"networks": ("network", net), "subnets": ("subnet", sub), "ports": ("port", port)}
    status, body = c.post("/v2.0/routers", {"router": {"name": "r"}})
    if status == 201:
        out["routers"] = ("router", body["router"])
    status, body = c.post("/v2.0/security-groups", {"security_group": {"name": "sg"}})
    if status == 201:
        out["security-groups"] = ("security_group", body["security_group"])
    ext = _external_net(admin)
    status, body = c.post("/v2.0/floatingips", {"floatingip": {"floating_network_id": ext["id"]}})
    if status == 201:
        out["floatingips"] = ("floatingip", body["floatingip"])
    return out


def test_cross_project_reads_and_writes_for_every_kind(projects):
    alice, reader, bob, admin = projects["alice"], projects["alice_reader"], projects["bob"], projects["admin"]
    made = _resources(alice, admin)
    assert {"networks", "subnets", "ports", "routers"} <= set(made)
    for coll, (kind, res) in made.items():
        path = f"/v2.0/{coll}/{res['id']}"
        # Another project's resource does not exist for bob: 404 for reads and writes alike.
        assert bob.get(path)[0] == 404, coll
        assert bob.put(path, {kind: {"description": "x"}})[0] == 404, coll
        assert bob.delete(path)[0] == 404, coll
        assert res["id"] not in [r["id"] for r in bob.get(f"/v2.0/{coll}")[1][coll.replace("-", "_")]]
        # alice's reader sees it, may not change it: 403 (it is visible to them).
        assert reader.get(path)[0] == 200, coll
        assert res["id"] in [r["id"] for r in reader.get(f"/v2.0/{coll}")[1][coll.replace("-", "_")]]
        neutron_error(*reader.put(path, {kind: {"description": "x"}}), 403, "PolicyNotAuthorized")
        # The admin sees and changes everything.
        assert admin.get(path)[0] == 200, coll
    for coll, (kind, res) in reversed(list(made.items())):
        neutron_error(*reader.delete(f"/v2.0/{coll}/{res['id']}"), 403, "PolicyNotAuthorized")
        assert alice.delete(f"/v2.0/{coll}/{res['id']}")[0] == 204, coll


def test_readers_cannot_create_and_tags_are_writes(projects):
    alice, reader = projects["alice"], projects["alice_reader"]
    neutron_error(*reader.post("/v2.0/networks", {"network": {"name": "x"}}), 403, "PolicyNotAuthorized")
    neutron_error(*reader.post("/v2.0/networks", {"networks": [{"name": "x"}]}), 403, "PolicyNotAuthorized")
    net = alice.create("network", name="tagged")
    neutron_error(*reader.put(f"/v2.0/networks/{net['id']}/tags/t1"), 403)
    assert alice.put(f"/v2.0/networks/{net['id']}/tags/t1")[0] == 201
    assert reader.get(f"/v2.0/networks/{net['id']}/tags")[1] == {"tags": ["t1"]}
    assert alice.delete(f"/v2.0/networks/{net['id']}")[0] == 204


def test_a_caller_without_roles_is_refused(api):
    nobody = as_(api, "p" + uuid.uuid4().hex[:10], "unknownrole")
    neutron_error(*nobody.get("/v2.0/networks"), 403, "PolicyNotAuthorized")
    neutron_error(*nobody.post("/v2.0/networks", {"network": {}}), 403)


@pytest.mark.parametrize("attrs", [{"shared": True}, {"router:external": True},
                                   {"provider:network_type": "vxlan"}, {"provider:segmentation_id": 77}])
def test_admin_only_network_attributes(projects, attrs):
    alice, admin = projects["alice"], projects["admin"]
    neutron_error(*alice.post("/v2.0/networks", {"network": {"name": "x", **attrs}}), 403, "PolicyNotAuthorized")
    net = alice.create("network", name="mine", shared=False)       # the default value is fine
    if "shared" in attrs or "router:external" in attrs:
        neutron_error(*alice.put(f"/v2.0/networks/{net['id']}", {"network": attrs}), 403)
        assert admin.put(f"/v2.0/networks/{net['id']}", {"network": attrs})[0] == 200
        admin.put(f"/v2.0/networks/{net['id']}", {"network": {k: False for k in attrs}})
    assert not any(k.startswith("provider:") for k in net)
    assert "provider:network_type" in admin.get(f"/v2.0/networks/{net['id']}")[1]["network"]
    assert alice.delete(f"/v2.0/networks/{net['id']}")[0] == 204


def test_project_id_of_another_project_needs_admin(projects):
    alice, bob, admin = projects["alice"], projects["bob"], projects["admin"]
    bob_project = bob.headers["X-Project-Id"]
    status, _ = alice.post("/v2.0/networks", {"network": {"name": "x", "tenant_id": bob_project}})
    assert status in (400, 403)
    net = admin.create("network", name="for-bob", project_id=bob_project)
    assert net["project_id"] == bob_project
    assert bob.get(f"/v2.0/networks/{net['id']}")[0] == 200
    assert bob.delete(f"/v2.0/networks/{net['id']}")[0] == 204


def test_service_role_binds_ports_of_any_project(projects, api):
    alice = projects["alice"]
    nova = as_(api, "service", "service")
    net = alice.create("network", name="n")
    alice.create("subnet", network_id=net["id"], cidr="10.62.0.0/24", ip_version=4)
    port = alice.create("port", network_id=net["id"])
    neutron_error(*alice.put(f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": "h1"}}), 403)
    status, body = nova.put(f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": "h1", "device_id": "vm1"}})
    assert status == 200, body
    assert body["port"]["binding:host_id"] == "h1" and "binding:vif_type" in body["port"]
    assert nova.get(f"/v2.0/ports/{port['id']}")[0] == 200
    # The service role sees ports, not other projects' networks.
    assert nova.get(f"/v2.0/networks/{net['id']}")[0] == 404
    assert alice.delete(f"/v2.0/ports/{port['id']}")[0] == 204
    assert alice.delete(f"/v2.0/networks/{net['id']}")[0] == 204
