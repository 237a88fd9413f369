"""Bulk create: all or nothing, and a refused bulk leaves no address or MAC held."""

from __future__ import annotations

import pytest

from tests.integration.test_api_support import held_claims, make_net, neutron_error, new_project


@pytest.fixture
def setup(api):
    c = new_project(api)
    net, sub = make_net(c, "10.60.0.0/24")
    return c, net, sub


def _ports(c, net):
    return c.get(f"/v2.0/ports?network_id={net['id']}")[1]["ports"]


def test_bulk_ports_created_together(setup, stack):
    c, net, sub = setup
    items = [{"network_id": net["id"], "name": f"b{i}"} for i in range(10)]
    items.append({"network_id": net["id"], "name": "fixed", "fixed_ips": [{"ip_address": "10.60.0.200"}]})
    status, body = c.post("/v2.0/ports", {"ports": items})
    assert status == 201, body
    assert [p["name"] for p in body["ports"]] == [i["name"] for i in items]
    ips = [p["fixed_ips"][0]["ip_address"] for p in body["ports"]]
    assert len(set(ips)) == 11 and "10.60.0.200" in ips
    assert len(held_claims(stack, subnet_id=sub["id"])) == 11
    assert len(_ports(c, net)) == 11


def test_bulk_networks_and_subnets(api):
    c = new_project(api)
    status, body = c.post("/v2.0/networks", {"networks": [{"name": "bn1"}, {"name": "bn2", "tags": ["x"]}]})
    assert status == 201 and [n["name"] for n in body["networks"]] == ["bn1", "bn2"]
    n1 = body["networks"][0]["id"]
    status, body = c.post("/v2.0/subnets", {"subnets": [
        {"network_id": n1, "cidr": "10.61.0.0/24", "ip_version": 4},
        {"network_id": n1, "cidr": "2001:db8:61::/64", "ip_version": 6}]})
    assert status == 201 and len(body["subnets"]) == 2


def test_bulk_with_invalid_item_creates_nothing(setup, stack):
    c, net, sub = setup
    items = [{"network_id": net["id"], "name": "ok1"}, {"network_id": net["id"], "mac_address": "bogus"},
             {"network_id": net["id"], "name": "ok2"}]
    neutron_error(*c.post("/v2.0/ports", {"ports": items}), 400)
    assert _ports(c, net) == []
    assert held_claims(stack, subnet_id=sub["id"]) == []
    assert held_claims(stack, "mac_claims", network_id=net["id"]) == []


def test_bulk_with_taken_address_creates_nothing_and_holds_nothing(setup, stack):
    c, net, sub = setup
    taken = c.create("port", network_id=net["id"], fixed_ips=[{"ip_address": "10.60.0.50"}])
    items = [{"network_id": net["id"], "name": f"x{i}"} for i in range(5)]
    items.append({"network_id": net["id"], "fixed_ips": [{"ip_address": "10.60.0.50"}]})
    neutron_error(*c.post("/v2.0/ports", {"ports": items}), 409, "IpAddressAlreadyAllocated")
    assert [p["id"] for p in _ports(c, net)] == [taken["id"]]
    assert [h["ip_address"] for h in held_claims(stack, subnet_id=sub["id"])] == ["10.60.0.50"]
    assert len(held_claims(stack, "mac_claims", network_id=net["id"])) == 1


def test_bulk_items_asking_for_the_same_address_conflict(setup, stack):
    c, net, sub = setup
    items = [{"network_id": net["id"], "fixed_ips": [{"ip_address": "10.60.0.9"}]},
             {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.60.0.9"}]}]
    neutron_error(*c.post("/v2.0/ports", {"ports": items}), 409)
    assert _ports(c, net) == [] and held_claims(stack, subnet_id=sub["id"]) == []


def test_bulk_subnets_must_not_overlap_each_other(api):
    c = new_project(api)
    net, _ = make_net(c, None)
    items = [{"network_id": net["id"], "cidr": "10.62.0.0/24", "ip_version": 4},
             {"network_id": net["id"], "cidr": "10.62.0.0/25", "ip_version": 4}]
    neutron_error(*c.post("/v2.0/subnets", {"subnets": items}), 400)
    assert c.get(f"/v2.0/subnets?network_id={net['id']}")[1]["subnets"] == []


def test_bulk_on_unknown_network_creates_nothing(setup, stack):
    c, net, sub = setup
    items = [{"network_id": net["id"]}, {"network_id": "3b1e6f9e-1f5c-4ad2-9b4a-0d0b9c7e8f11"}]
    neutron_error(*c.post("/v2.0/ports", {"ports": items}), 404)
    assert _ports(c, net) == [] and held_claims(stack, subnet_id=sub["id"]) == []


def test_bulk_envelope_errors(setup):
    c, net, _ = setup
    neutron_error(*c.post("/v2.0/ports", {"ports": []}), 400)
    neutron_error(*c.post("/v2.0/ports", {"ports": "x"}), 400)
    neutron_error(*c.post("/v2.0/ports", {"ports": ["x"]}), 400)
