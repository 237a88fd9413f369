"""Floating IPs over real HTTP: create (any / a given address), associate,
disassociate, port_details, Neutron's errors, and the floating port."""

from __future__ import annotations

import pytest

from tests.integration.test_api_router import _cleanup_network, ext_net, lan  # noqa: F401 (fixtures)


@pytest.fixture
def routed(api, ext_net, lan):  # noqa: F811
    net, ext_sub = ext_net
    r = api.create("router", name="r-fip", external_gateway_info={"network_id": net["id"]})
    lan_net, sub = lan("10.20.0.0/24")
    api.put(f"/v2.0/routers/{r['id']}/add_router_interface", {"subnet_id": sub["id"]})
    return net, r, lan_net, sub


def test_create_associate_disassociate(api, routed):
    ext, router, lan_net, sub = routed
    vm = api.create("port", network_id=lan_net["id"], device_owner="compute:nova", device_id="vm-1")
    status, body = api.post("/v2.0/floatingips", {"floatingip": {"floating_network_id": ext["id"],
                                                                 "port_id": vm["id"]}})
    assert status == 201, body
    fip = body["floatingip"]
    assert fip["floating_ip_address"].startswith("203.0.113.") and fip["router_id"] == router["id"]
    assert fip["port_id"] == vm["id"] and fip["fixed_ip_address"] == vm["fixed_ips"][0]["ip_address"]
    assert fip["status"] == "DOWN"          # no L3 worker here
    details = fip["port_details"]
    assert details["network_id"] == lan_net["id"] and details["mac_address"] == vm["mac_address"]
    assert details["device_id"] == "vm-1" and details["admin_state_up"] is True
    (fport,) = api.get(f"/v2.0/ports?device_id={fip['id']}")[1]["ports"]
    assert fport["device_owner"] == "network:floatingip"
    assert fport["fixed_ips"][0]["ip_address"] == fip["floating_ip_address"]

    status, err = api.put(f"/v2.0/routers/{router['id']}/remove_router_interface", {"subnet_id": sub["id"]})
    assert status == 409 and err["NeutronError"]["type"] == "RouterInterfaceInUseByFloatingIP"
    status, err = api.post("/v2.0/floatingips", {"floatingip": {"floating_network_id": ext["id"],
                                                                "port_id": vm["id"]}})
    assert status == 409 and err["NeutronError"]["type"] == "FloatingIPPortAlreadyAssociated"

    status, body = api.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
    assert status == 200 and body["floatingip"]["port_id"] is None and body["floatingip"]["router_id"] is None
    status, body = api.put(f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": vm["id"]}})
    assert status == 200 and body["floatingip"]["port_id"] == vm["id"]
    # deleting the instance port disassociates
    assert api.delete(f"/v2.0/ports/{vm['id']}")[0] == 204
    assert api.get(f"/v2.0/floatingips/{fip['id']}")[1]["floatingip"]["port_id"] is None
    assert api.delete(f"/v2.0/floatingips/{fip['id']}")[0] == 204
    assert api.get(f"/v2.0/ports/{fport['id']}")[0] == 404


def test_given_address_and_errors(api, routed, lan):  # noqa: F811
    ext, router, lan_net, sub = routed
    status, body = api.post("/v2.0/floatingips", {"floatingip": {"floating_network_id": ext["id"],
                                                                 "floating_ip_address": "203.0.113.77"}})
    assert status == 201 and body["floatingip"]["floating_ip_address"] == "203.0.113.77"
    status, err = api.post("/v2.0/floatingips", {"floatingip": {"floating_network_id": ext["id"],
                                                                "floating_ip_address": "203.0.113.77"}})
    assert status == 409 and err["NeutronError"]["type"] == "IpAddressAlreadyAllocated"
    status, err = api.post("/v2.0/floatingips", {"floatingip": {"floating_network_id": lan_net["id"]}})
    assert status == 400 and "not a valid external network" in err["NeutronError"]["message"]
    other_net, _ = lan("10.21.0.0/24")
    orphan = api.create("port", network_id=other_net["id"])
    status, err = api.put(f"/v2.0/floatingips/{body['floatingip']['id']}", {"floatingip": {"port_id": orphan["id"]}})
    assert status == 404 and err["NeutronError"]["type"] == "ExternalGatewayForFloatingIPNotFound"
    user = api.as_project("proj-fip")
    status, err = user.post("/v2.0/floatingips", {"floatingip": {"floating_network_id": ext["id"],
                                                                 "floating_ip_address": "203.0.113.78"}})
    assert status == 403
    status, mine = user.post("/v2.0/floatingips", {"floatingip": {"floating_network_id": ext["id"]}})
    assert status == 201 and mine["floatingip"]["project_id"] == "proj-fip"
    assert api.as_project("proj-other").get(f"/v2.0/floatingips/{mine['floatingip']['id']}")[0] == 404
    assert [f["id"] for f in user.get("/v2.0/floatingips")[1]["floatingips"]] == [mine["floatingip"]["id"]]
    status, err = api.get("/v2.0/floatingips/00000000-0000-4000-8000-000000000000")
    assert status == 404 and err["NeutronError"]["type"] == "FloatingIPNotFound"
    api.delete(f"/v2.0/ports/{orphan['id']}")
