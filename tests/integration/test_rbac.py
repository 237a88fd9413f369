"""RBAC policies: sharing a network with one project or all, external access,
revocation refused while the other project still has ports (Neutron's 409s)."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.test_api_support import neutron_error
from tests.support import Client


def _member(api: Client) -> Client:
    return Client(api.base, {"X-Project-Id": "r" + uuid.uuid4().hex[:10], "X-Roles": "member"})


@pytest.fixture
def trio(api):
    return _member(api), _member(api), _member(api)


def _net(c: Client, cidr: str) -> dict:
    net = c.create("network", name="shared-me")
    c.create("subnet", network_id=net["id"], cidr=cidr, ip_version=4)
    return net


def _share(c: Client, net: dict, target: str, action: str = "access_as_shared"):
    return c.post("/v2.0/rbac-policies", {"rbac_policy": {"object_type": "network", "object_id": net["id"],
                                                          "action": action, "target_tenant": target}})


def test_share_with_one_project_then_revoke(trio):
    owner, bob, carol = trio
    net = _net(owner, "10.95.0.0/24")
    bob_id = bob.headers["X-Project-Id"]
    neutron_error(*bob.get(f"/v2.0/networks/{net['id']}"), 404)
    status, body = _share(owner, net, bob_id)
    assert status == 201, body
    policy = body["rbac_policy"]
    assert {k: policy[k] for k in ("object_type", "object_id", "action", "target_tenant", "project_id")} == {
        "object_type": "network", "object_id": net["id"], "action": "access_as_shared",
        "target_tenant": bob_id, "project_id": owner.headers["X-Project-Id"]}
    # bob sees it (shared, from where he stands), carol does not; the owner's view is unchanged.
    seen = bob.get(f"/v2.0/networks/{net['id']}")[1]["network"]
    assert seen["shared"] is True
    assert net["id"] in [n["id"] for n in bob.get("/v2.0/networks")[1]["networks"]]
    neutron_error(*carol.get(f"/v2.0/networks/{net['id']}"), 404)
    assert owner.get(f"/v2.0/networks/{net['id']}")[1]["network"]["shared"] is False
    neutron_error(*_share(owner, net, bob_id), 409, "DuplicateRbacPolicy")
    # Policies are seen by their own project only.
    assert [p["id"] for p in owner.get("/v2.0/rbac-policies")[1]["rbac_policies"]] == [policy["id"]]
    assert bob.get("/v2.0/rbac-policies")[1]["rbac_policies"] == []
    neutron_error(*bob.get(f"/v2.0/rbac-policies/{policy['id']}"), 404, "RbacPolicyNotFound")
    port = bob.create("port", network_id=net["id"])
    neutron_error(*owner.delete(f"/v2.0/rbac-policies/{policy['id']}"), 409, "RbacPolicyInUse")
    neutron_error(*owner.put(f"/v2.0/rbac-policies/{policy['id']}",
                             {"rbac_policy": {"target_tenant": carol.headers["X-Project-Id"]}}), 409)
    assert bob.delete(f"/v2.0/ports/{port['id']}")[0] == 204
    assert owner.delete(f"/v2.0/rbac-policies/{policy['id']}")[0] == 204
    neutron_error(*bob.get(f"/v2.0/networks/{net['id']}"), 404)
    neutron_error(*bob.post("/v2.0/ports", {"port": {"network_id": net["id"]}}), 404, "NetworkNotFound")


def test_retarget_moves_access(trio):
    owner, bob, carol = trio
    net = _net(owner, "10.96.0.0/24")
    policy = _share(owner, net, bob.headers["X-Project-Id"])[1]["rbac_policy"]
    status, body = owner.put(f"/v2.0/rbac-policies/{policy['id']}",
                             {"rbac_policy": {"target_tenant": carol.headers["X-Project-Id"]}})
    assert status == 200 and body["rbac_policy"]["target_tenant"] == carol.headers["X-Project-Id"]
    neutron_error(*bob.get(f"/v2.0/networks/{net['id']}"), 404)
    assert carol.get(f"/v2.0/networks/{net['id']}")[0] == 200


def test_wildcard_is_the_shared_flag(trio, api):
    owner, bob, _ = trio
    net = _net(owner, "10.97.0.0/24")
    neutron_error(*_share(owner, net, "*"), 403, "PolicyNotAuthorized")     # wildcard: admins only
    status, body = _share(api, net, "*")
    assert status == 201 and body["rbac_policy"]["target_tenant"] == "*"
    wildcard = body["rbac_policy"]
    assert owner.get(f"/v2.0/networks/{net['id']}")[1]["network"]["shared"] is True
    assert [p["id"] for p in owner.get(f"/v2.0/rbac-policies?object_id={net['id']}")[1]["rbac_policies"]] \
        == [wildcard["id"]]
    port = bob.create("port", network_id=net["id"])
    # Unsharing while bob has a port: refused both ways, as Neutron.
    neutron_error(*api.put(f"/v2.0/networks/{net['id']}", {"network": {"shared": False}}), 409,
                  "InvalidSharedSetting")
    neutron_error(*api.delete(f"/v2.0/rbac-policies/{wildcard['id']}"), 409, "RbacPolicyInUse")
    # A direct share for bob keeps him served: now the wildcard may go.
    assert _share(owner, net, bob.headers["X-Project-Id"])[0] == 201
    assert api.delete(f"/v2.0/rbac-policies/{wildcard['id']}")[0] == 204
    assert owner.get(f"/v2.0/networks/{net['id']}")[1]["network"]["shared"] is False
    assert bob.get(f"/v2.0/ports/{port['id']}")[0] == 200
    # shared=True on create is the wildcard policy too.
    net2 = api.create("network", name="pub", shared=True, project_id=owner.headers["X-Project-Id"])
    listed = owner.get(f"/v2.0/rbac-policies?object_id={net2['id']}")[1]["rbac_policies"]
    assert [(p["action"], p["target_tenant"]) for p in listed] == [("access_as_shared", "*")]


def test_external_access_and_errors(trio, api):
    owner, bob, carol = trio
    net = _net(owner, "10.98.0.0/24")
    status, body = _share(owner, net, bob.headers["X-Project-Id"], "access_as_external")
    assert status == 201, body
    seen = bob.get(f"/v2.0/networks/{net['id']}")[1]["network"]
    assert seen["router:external"] is True
    neutron_error(*carol.get(f"/v2.0/networks/{net['id']}"), 404)
    # Someone else's network: Neutron checks both in a BEFORE_CREATE callback, whose
    # failure is 400 InvalidInput (invisible: not found; visible: not the owner).
    neutron_error(*_share(carol, net, carol.headers["X-Project-Id"]), 400, "InvalidInput")
    neutron_error(*_share(bob, net, carol.headers["X-Project-Id"]), 400, "InvalidInput")
    neutron_error(*owner.post("/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "qos_policy", "object_id": net["id"], "action": "access_as_shared",
        "target_tenant": "x"}}), 400)
    neutron_error(*owner.post("/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "network", "object_id": net["id"], "action": "access_as_root", "target_tenant": "x"}}), 400)
    # Policies go with their network.
    owner.delete(f"/v2.0/networks/{net['id']}")
    assert owner.get("/v2.0/rbac-policies")[1]["rbac_policies"] == []


def test_rbac_policies_count_against_their_quota(trio, api):
    owner, bob, carol = trio
    net = _net(owner, "10.99.0.0/24")
    api.put(f"/v2.0/quotas/{owner.headers['X-Project-Id']}", {"quota": {"rbac_policy": 1}})
    first = _share(owner, net, bob.headers["X-Project-Id"])[1]["rbac_policy"]
    neutron_error(*_share(owner, net, carol.headers["X-Project-Id"]), 409, "OverQuota")
    assert owner.delete(f"/v2.0/rbac-policies/{first['id']}")[0] == 204
    assert _share(owner, net, carol.headers["X-Project-Id"])[0] == 201
