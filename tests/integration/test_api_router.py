"""Routers over real HTTP: gateway, interfaces (by subnet and by port), extra routes,
errors as Neutron answers them, and the ports a router owns."""

from __future__ import annotations

import pytest


@pytest.fixture
def ext_net(api):
    net = api.create("network", name="ext", **{"router:external": True, "provider:network_type": "flat",
                                               "provider:physical_network": "physnet1"})
    sub = api.create("subnet", network_id=net["id"], cidr="203.0.113.0/24", ip_version=4,
                     allocation_pools=[{"start": "203.0.113.10", "end": "203.0.113.99"}])
    yield net, sub
    _cleanup_network(api, net["id"])


def _cleanup_network(api, net_id):
    for fip in api.get(f"/v2.0/floatingips?floating_network_id={net_id}")[1]["floatingips"]:
        api.delete(f"/v2.0/floatingips/{fip['id']}")
    for port in api.get(f"/v2.0/ports?network_id={net_id}")[1]["ports"]:
        if port["device_owner"] == "network:router_gateway":
            api.put(f"/v2.0/routers/{port['device_id']}", {"router": {"external_gateway_info": {}}})
        elif port["device_owner"] == "network:router_interface":
            api.put(f"/v2.0/routers/{port['device_id']}/remove_router_interface", {"port_id": port["id"]})
        else:
            api.delete(f"/v2.0/ports/{port['id']}")
    api.delete(f"/v2.0/networks/{net_id}")


@pytest.fixture
def lan(api):
    made = []

    def build(cidr: str, client=None):
        c = client or api
        net = c.create("network", name=f"lan-{cidr}")
        sub = c.create("subnet", network_id=net["id"], cidr=cidr, ip_version=4)
        made.append(net["id"])
        return net, sub
    yield build
    for routers in [api.get("/v2.0/routers")[1]["routers"]]:
        for r in routers:
            for p in api.get(f"/v2.0/ports?device_id={r['id']}&device_owner=network:router_interface")[1]["ports"]:
                api.put(f"/v2.0/routers/{r['id']}/remove_router_interface", {"port_id": p["id"]})
            api.delete(f"/v2.0/routers/{r['id']}")
    for net_id in made:
        _cleanup_network(api, net_id)


def test_router_with_gateway_and_interfaces(api, ext_net, lan):
    net, ext_sub = ext_net
    status, body = api.post("/v2.0/routers", {"router": {"name": "r1", "external_gateway_info": {
        "network_id": net["id"]}}})
    assert status == 201, body
    r = body["router"]
    assert r["status"] == "ACTIVE" and r["admin_state_up"] is True and r["routes"] == []
    gw = r["external_gateway_info"]
    assert gw["network_id"] == net["id"] and gw["enable_snat"] is True
    (fixed,) = gw["external_fixed_ips"]
    assert fixed["subnet_id"] == ext_sub["id"] and fixed["ip_address"].startswith("203.0.113.")
    (gw_port,) = api.get(f"/v2.0/ports?device_id={r['id']}&device_owner=network:router_gateway")[1]["ports"]
    assert gw_port["fixed_ips"][0]["ip_address"] == fixed["ip_address"] and gw_port["project_id"] == ""

    _, sub_a = lan("10.1.0.0/24")
    status, info = api.put(f"/v2.0/routers/{r['id']}/add_router_interface", {"subnet_id": sub_a["id"]})
    assert status == 200, info
    assert info["subnet_id"] == sub_a["id"] and info["id"] == r["id"] and info["subnet_ids"] == [sub_a["id"]]
    port = api.get(f"/v2.0/ports/{info['port_id']}")[1]["port"]
    assert port["device_owner"] == "network:router_interface" and port["device_id"] == r["id"]
    assert port["fixed_ips"] == [{"subnet_id": sub_a["id"], "ip_address": "10.1.0.1"}]

    # by port
    net_b, sub_b = lan("10.2.0.0/24")
    p = api.create("port", network_id=net_b["id"], fixed_ips=[{"subnet_id": sub_b["id"], "ip_address": "10.2.0.254"}])
    status, info_b = api.put(f"/v2.0/routers/{r['id']}/add_router_interface", {"port_id": p["id"]})
    assert status == 200 and info_b["port_id"] == p["id"], info_b
    assert api.get(f"/v2.0/ports/{p['id']}")[1]["port"]["device_owner"] == "network:router_interface"

    # the subnet in use by the router cannot be deleted; nor can the router
    status, err = api.delete(f"/v2.0/subnets/{sub_a['id']}")
    assert status == 409 and err["NeutronError"]["type"] == "SubnetInUse"
    status, err = api.delete(f"/v2.0/routers/{r['id']}")
    assert status == 409 and err["NeutronError"]["type"] == "RouterInUse"

    # removal deletes the interface port and frees its address
    status, _ = api.put(f"/v2.0/routers/{r['id']}/remove_router_interface", {"subnet_id": sub_a["id"]})
    assert status == 200
    assert api.get(f"/v2.0/ports/{info['port_id']}")[0] == 404
    status, _ = api.put(f"/v2.0/routers/{r['id']}/remove_router_interface", {"port_id": p["id"]})
    assert status == 200
    status, _ = api.delete(f"/v2.0/routers/{r['id']}")
    assert status == 204
    assert api.get(f"/v2.0/ports?device_id={r['id']}")[1]["ports"] == []


def test_interface_errors(api, lan):
    r = api.create("router", name="r-err")
    _, sub = lan("10.3.0.0/24")
    status, info = api.put(f"/v2.0/routers/{r['id']}/add_router_interface", {"subnet_id": sub["id"]})
    assert status == 200
    # The router owns its interface port: the port API refuses to delete it.
    status, err = api.delete(f"/v2.0/ports/{info['port_id']}")
    assert status == 409 and err["NeutronError"]["type"] == "ServicePortInUse"
    status, err = api.put(f"/v2.0/routers/{r['id']}/add_router_interface", {"subnet_id": sub["id"]})
    assert status == 400 and "already has a port on subnet" in err["NeutronError"]["message"]
    _, overlapping = lan("10.3.0.0/16")
    status, err = api.put(f"/v2.0/routers/{r['id']}/add_router_interface", {"subnet_id": overlapping["id"]})
    assert status == 400 and "overlaps with cidr" in err["NeutronError"]["message"], err
    status, err = api.put(f"/v2.0/routers/{r['id']}/add_router_interface", {})
    assert status == 400
    status, err = api.put(f"/v2.0/routers/{r['id']}/remove_router_interface", {"subnet_id": overlapping["id"]})
    assert status == 404 and err["NeutronError"]["type"] == "RouterInterfaceNotFoundForSubnet"
    net_c, sub_c = lan("10.4.0.0/24")
    used = api.create("port", network_id=net_c["id"], device_id="vm-1", device_owner="compute:nova")
    status, err = api.put(f"/v2.0/routers/{r['id']}/add_router_interface", {"port_id": used["id"]})
    assert status == 409 and err["NeutronError"]["type"] == "PortInUse"
    api.delete(f"/v2.0/ports/{used['id']}")
    status, err = api.get("/v2.0/routers/00000000-0000-4000-8000-000000000000")
    assert status == 404 and err["NeutronError"]["type"] == "RouterNotFound"


def test_gateway_must_be_external(api, lan):
    net, _ = lan("10.5.0.0/24")
    status, err = api.post("/v2.0/routers", {"router": {"external_gateway_info": {"network_id": net["id"]}}})
    assert status == 400 and "not a valid external network" in err["NeutronError"]["message"]


def test_extra_routes_and_atomic_add_remove(api, ext_net, lan):
    net, _ = ext_net
    r = api.create("router", name="r-routes", external_gateway_info={"network_id": net["id"]})
    _, sub = lan("10.6.0.0/24")
    api.put(f"/v2.0/routers/{r['id']}/add_router_interface", {"subnet_id": sub["id"]})
    routes = [{"destination": "10.60.0.0/16", "nexthop": "10.6.0.5"}]
    status, body = api.put(f"/v2.0/routers/{r['id']}", {"router": {"routes": routes}})
    assert status == 200 and body["router"]["routes"] == routes, body
    status, err = api.put(f"/v2.0/routers/{r['id']}", {"router": {"routes": [
        {"destination": "10.70.0.0/16", "nexthop": "192.168.99.1"}]}})
    assert status == 400 and err["NeutronError"]["type"] == "InvalidRoutes"
    status, err = api.put(f"/v2.0/routers/{r['id']}", {"router": {"routes": [
        {"destination": "10.70.0.0/16", "nexthop": "10.6.0.1"}]}})
    assert status == 400 and "used by router" in err["NeutronError"]["message"]
    extra = {"destination": "10.80.0.0/16", "nexthop": "203.0.113.1"}
    status, body = api.put(f"/v2.0/routers/{r['id']}/add_extraroutes", {"router": {"routes": [extra]}})
    assert status == 200 and sorted(x["destination"] for x in body["router"]["routes"]) == ["10.60.0.0/16",
                                                                                            "10.80.0.0/16"]
    status, body = api.put(f"/v2.0/routers/{r['id']}/remove_extraroutes", {"router": {"routes": routes}})
    assert status == 200 and body["router"]["routes"] == [extra]
    status, err = api.put(f"/v2.0/routers/{r['id']}/remove_router_interface", {"subnet_id": sub["id"]})
    assert status == 200   # the remaining route's nexthop is on the external subnet
    status, body = api.put(f"/v2.0/routers/{r['id']}", {"router": {"routes": []}})
    assert status == 200 and body["router"]["routes"] == []


def test_update_gateway_snat_and_clear(api, ext_net):
    net, _ = ext_net
    r = api.create("router", name="r-gw")
    status, body = api.put(f"/v2.0/routers/{r['id']}", {"router": {"external_gateway_info": {
        "network_id": net["id"], "enable_snat": False}}})
    assert status == 200 and body["router"]["external_gateway_info"]["enable_snat"] is False, body
    status, body = api.put(f"/v2.0/routers/{r['id']}", {"router": {"external_gateway_info": {
        "network_id": net["id"], "enable_snat": True}}})
    assert status == 200 and body["router"]["external_gateway_info"]["enable_snat"] is True
    status, body = api.put(f"/v2.0/routers/{r['id']}", {"router": {"external_gateway_info": None}})
    assert status == 200 and body["router"]["external_gateway_info"] is None
    assert api.get(f"/v2.0/ports?device_id={r['id']}")[1]["ports"] == []
    user = api.as_project("proj-x")
    status, err = user.post("/v2.0/routers", {"router": {"external_gateway_info": {
        "network_id": net["id"], "enable_snat": False}}})
    assert status == 403, err


def test_projects_and_extensions(api):
    a, b = api.as_project("proj-a"), api.as_project("proj-b")
    ra = a.create("router", name="ra")
    assert ra["project_id"] == "proj-a"
    assert b.get(f"/v2.0/routers/{ra['id']}")[0] == 404
    assert [r["id"] for r in b.get("/v2.0/routers")[1]["routers"]] == []
    aliases = {e["alias"] for e in api.get("/v2.0/extensions")[1]["extensions"]}
    assert {"router", "extraroute", "extraroute-atomic", "ext-gw-mode", "fip-port-details"} <= aliases
    assert a.delete(f"/v2.0/routers/{ra['id']}")[0] == 204
