"""Projects from X-Project-Id: scoping, admin visibility, shared networks, policy 403s."""

from __future__ import annotations

from tests.integration.test_api_support import make_net, neutron_error, new_project


def test_resources_carry_the_project_and_lists_are_scoped(api):
    alice, bob = new_project(api), new_project(api)
    net, sub = make_net(alice, "10.30.0.0/24")
    port = alice.create("port", network_id=net["id"])
    for kind, res in (("network", net), ("subnet", sub), ("port", port)):
        assert res["project_id"] == alice.headers["X-Project-Id"]
        assert [r["id"] for r in alice.get(f"/v2.0/{kind}s")[1][f"{kind}s"]] == [res["id"]]
        assert bob.get(f"/v2.0/{kind}s")[1] == {f"{kind}s": []}
        # Another project's resource does not exist for bob: 404, never 403.
        neutron_error(*bob.get(f"/v2.0/{kind}s/{res['id']}"), 404, f"{kind.title()}NotFound")
        neutron_error(*bob.put(f"/v2.0/{kind}s/{res['id']}", {kind: {"name": "x"}}), 404)
        neutron_error(*bob.put(f"/v2.0/{kind}s/{res['id']}/tags", {"tags": ["x"]}), 404)
        neutron_error(*bob.delete(f"/v2.0/{kind}s/{res['id']}"), 404)
    neutron_error(*bob.post("/v2.0/ports", {"port": {"network_id": net["id"]}}), 404, "NetworkNotFound")
    neutron_error(*bob.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.31.0.0/24",
                                                         "ip_version": 4}}), 404)


def test_admin_sees_every_project(api):
    alice = new_project(api)
    net, _ = make_net(alice, None)
    assert api.get(f"/v2.0/networks/{net['id']}")[0] == 200
    listed = api.get(f"/v2.0/networks?project_id={alice.headers['X-Project-Id']}")[1]["networks"]
    assert [n["id"] for n in listed] == [net["id"]]
    # X-Roles: admin grants admin to any project.
    other_admin = new_project(api).as_project("ops", admin=True)
    assert other_admin.get(f"/v2.0/networks/{net['id']}")[0] == 200
    assert api.put(f"/v2.0/networks/{net['id']}", {"network": {"name": "by-admin"}})[0] == 200


def test_default_project_without_header_is_admin(api):
    net = api.create("network", name="default-proj")
    assert net["project_id"] == "admin"
    assert "provider:network_type" in net  # admins see provider attributes
    assert api.delete(f"/v2.0/networks/{net['id']}")[0] == 204


def test_shared_network_visible_and_usable_by_others(api):
    owner, guest = new_project(api), new_project(api)
    net, sub = make_net(owner, "10.32.0.0/24")
    assert api.put(f"/v2.0/networks/{net['id']}", {"network": {"shared": True}})[0] == 200
    assert net["id"] in [n["id"] for n in guest.get("/v2.0/networks")[1]["networks"]]
    assert guest.get("/v2.0/networks?shared=True")[1]["networks"][0]["id"] == net["id"]
    assert guest.get(f"/v2.0/networks/{net['id']}")[0] == 200
    port = guest.create("port", network_id=net["id"], name="guest-port")
    assert port["project_id"] == guest.headers["X-Project-Id"]
    assert port["fixed_ips"][0]["subnet_id"] == sub["id"]
    # The guest sees its port, not the owner's subnet; the owner does not see the guest's port.
    assert [p["id"] for p in guest.get("/v2.0/ports")[1]["ports"]] == [port["id"]]
    assert owner.get("/v2.0/ports")[1]["ports"] == []
    # Only the owner may change or delete the network, or add subnets to it.
    neutron_error(*guest.put(f"/v2.0/networks/{net['id']}", {"network": {"name": "mine"}}), 404)
    neutron_error(*guest.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.33.0.0/24",
                                                           "ip_version": 4}}), 403, "PolicyNotAuthorized")
    # Addresses and MACs on someone else's network are the owner's to choose.
    for attrs in ({"mac_address": "fa:16:3e:12:34:56"}, {"fixed_ips": [{"ip_address": "10.32.0.77"}]},
                  {"device_owner": "network:dhcp"}):
        neutron_error(*guest.post("/v2.0/ports", {"port": {"network_id": net["id"], **attrs}}), 403)
    neutron_error(*owner.delete(f"/v2.0/networks/{net['id']}"), 409, "NetworkInUse")
    assert guest.delete(f"/v2.0/ports/{port['id']}")[0] == 204
    assert owner.delete(f"/v2.0/networks/{net['id']}")[0] == 204


def test_non_admins_do_not_see_binding_or_provider_details(api):
    c = new_project(api)
    net, _ = make_net(c, "10.34.0.0/24")
    port = c.create("port", network_id=net["id"])
    assert not any(k.startswith("provider:") for k in net)
    assert not any(k.startswith("binding:") and k != "binding:vnic_type" for k in port)
    admin_view = api.get(f"/v2.0/ports/{port['id']}")[1]["port"]
    assert admin_view["binding:vif_type"] == "unbound"
    neutron_error(*c.post("/v2.0/ports", {"port": {"network_id": net["id"], "binding:host_id": "h1"}}), 403)
