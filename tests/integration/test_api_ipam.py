"""IPAM over HTTP: subnets (v4/v6), pools, gateways, routes, DNS, overlap; port addresses and MACs."""

from __future__ import annotations

import ipaddress
import time

import pytest

from tests.integration.test_api_support import held_claims, make_net, neutron_error, new_project


def eui64(prefix: str, mac: str) -> str:
    """RFC 4291 appendix A, written out independently of the implementation."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    iid = int.from_bytes(bytes(octets[:3] + [0xFF, 0xFE] + octets[3:]), "big")
    return str(ipaddress.IPv6Address(int(ipaddress.ip_network(prefix).network_address) | iid))


@pytest.fixture
def c(api):
    return new_project(api)


def test_ipv4_subnet_defaults(c):
    net, sub = make_net(c, "192.168.50.0/24")
    assert sub["gateway_ip"] == "192.168.50.1" and sub["ip_version"] == 4
    assert sub["allocation_pools"] == [{"start": "192.168.50.2", "end": "192.168.50.254"}]
    assert sub["enable_dhcp"] is True and sub["dns_nameservers"] == [] and sub["host_routes"] == []
    assert c.get(f"/v2.0/networks/{net['id']}")[1]["network"]["subnets"] == [sub["id"]]


def test_ipv4_subnet_with_everything(c):
    net, _ = make_net(c, None)
    sub = c.create("subnet", network_id=net["id"], cidr="10.40.0.0/24", ip_version=4, gateway_ip="10.40.0.254",
                   allocation_pools=[{"start": "10.40.0.10", "end": "10.40.0.20"}],
                   dns_nameservers=["8.8.8.8", "1.1.1.1"], enable_dhcp=False,
                   host_routes=[{"destination": "172.16.0.0/16", "nexthop": "10.40.0.5"}])
    assert sub["gateway_ip"] == "10.40.0.254" and sub["enable_dhcp"] is False
    assert sub["dns_nameservers"] == ["8.8.8.8", "1.1.1.1"]
    assert sub["host_routes"] == [{"destination": "172.16.0.0/16", "nexthop": "10.40.0.5"}]
    status, body = c.put(f"/v2.0/subnets/{sub['id']}", {"subnet": {
        "dns_nameservers": ["9.9.9.9"], "host_routes": [], "gateway_ip": None,
        "allocation_pools": [{"start": "10.40.0.10", "end": "10.40.0.30"}]}})
    assert status == 200, body
    updated = body["subnet"]
    assert updated["dns_nameservers"] == ["9.9.9.9"] and updated["host_routes"] == []
    assert updated["gateway_ip"] is None and updated["allocation_pools"][0]["end"] == "10.40.0.30"
    neutron_error(*c.put(f"/v2.0/subnets/{sub['id']}", {"subnet": {"cidr": "10.41.0.0/24"}}), 400)


def test_gateway_inside_pool_is_409(c):
    net, _ = make_net(c, None)
    status, body = c.post("/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.42.0.0/24", "ip_version": 4, "gateway_ip": "10.42.0.5",
        "allocation_pools": [{"start": "10.42.0.2", "end": "10.42.0.9"}]}})
    neutron_error(status, body, 409)


def test_ipv6_subnets(c):
    net, _ = make_net(c, None)
    stateful = c.create("subnet", network_id=net["id"], cidr="2001:db8:1::/64", ip_version=6)
    # Neutron's IPv6 default gateway is the Subnet-Router anycast address.
    assert stateful["gateway_ip"] == "2001:db8:1::"
    slaac = c.create("subnet", network_id=net["id"], cidr="2001:db8:2::/64", ip_version=6,
                     ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    port = c.create("port", network_id=net["id"])
    by_subnet = {f["subnet_id"]: f["ip_address"] for f in port["fixed_ips"]}
    assert ipaddress.ip_address(by_subnet[stateful["id"]]) in ipaddress.ip_network("2001:db8:1::/64")
    # SLAAC: the EUI-64 address of the port's MAC.
    assert by_subnet[slaac["id"]] == eui64("2001:db8:2::/64", port["mac_address"])
    neutron_error(*c.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "2001:db8:2::/64",
                                                       "ip_version": 6}}), 400)


def test_overlapping_subnets_refused_on_one_network_only(c):
    net, _ = make_net(c, "10.43.0.0/24")
    err = neutron_error(*c.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.43.0.128/25",
                                                             "ip_version": 4}}), 400)
    assert "overlaps" in err["message"]
    other, _ = make_net(c, "10.43.0.0/24")  # another network may reuse the range
    assert other["id"] != net["id"]


def test_port_gets_address_from_pool_and_generated_mac(c):
    net, sub = make_net(c, "10.44.0.0/29")  # pool .2 - .6
    ports = [c.create("port", network_id=net["id"]) for _ in range(5)]
    ips = sorted(p["fixed_ips"][0]["ip_address"] for p in ports)
    assert ips == [f"10.44.0.{i}" for i in range(2, 7)]
    assert all(p["mac_address"].startswith("fa:16:3e:") for p in ports)
    assert len({p["mac_address"] for p in ports}) == 5
    neutron_error(*c.post("/v2.0/ports", {"port": {"network_id": net["id"]}}), 409, "IpAddressGenerationFailure")


def test_requested_addresses_and_mac(c):
    net, sub = make_net(c, "10.45.0.0/24")
    p = c.create("port", network_id=net["id"], mac_address="FA-16-3E-AA-BB-CC",
                 fixed_ips=[{"subnet_id": sub["id"], "ip_address": "10.45.0.100"}])
    assert p["mac_address"] == "fa:16:3e:aa:bb:cc"
    assert p["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.45.0.100"}]
    by_ip_only = c.create("port", network_id=net["id"], fixed_ips=[{"ip_address": "10.45.0.101"}])
    assert by_ip_only["fixed_ips"][0]["subnet_id"] == sub["id"]
    by_subnet = c.create("port", network_id=net["id"], fixed_ips=[{"subnet_id": sub["id"]}])
    assert by_subnet["fixed_ips"][0]["subnet_id"] == sub["id"]
    # Outside the pool but inside the cidr is allowed when asked for explicitly (as in Neutron).
    assert c.create("port", network_id=net["id"], fixed_ips=[{"ip_address": "10.45.0.1"}])
    neutron_error(*c.post("/v2.0/ports", {"port": {"network_id": net["id"],
                                                   "fixed_ips": [{"ip_address": "10.45.0.100"}]}}),
                  409, "IpAddressAlreadyAllocated")
    neutron_error(*c.post("/v2.0/ports", {"port": {"network_id": net["id"], "mac_address": "fa:16:3e:aa:bb:cc"}}),
                  409, "MacAddressInUse")
    neutron_error(*c.post("/v2.0/ports", {"port": {"network_id": net["id"],
                                                   "fixed_ips": [{"ip_address": "10.99.0.5"}]}}), 400)
    neutron_error(*c.post("/v2.0/ports", {"port": {"network_id": net["id"],
                                                   "fixed_ips": [{"ip_address": "10.45.0.255"}]}}), 400)


def test_update_fixed_ips_and_mac_release_old_values(c, stack):
    net, sub = make_net(c, "10.46.0.0/24")
    p = c.create("port", network_id=net["id"], fixed_ips=[{"ip_address": "10.46.0.10"}])
    status, body = c.put(f"/v2.0/ports/{p['id']}", {"port": {"fixed_ips": [{"ip_address": "10.46.0.11"}],
                                                             "mac_address": "fa:16:3e:00:00:99"}})
    assert status == 200, body
    assert body["port"]["fixed_ips"][0]["ip_address"] == "10.46.0.11"
    assert body["port"]["mac_address"] == "fa:16:3e:00:00:99"
    assert [h["ip_address"] for h in held_claims(stack, subnet_id=sub["id"])] == ["10.46.0.11"]
    # The old address is free again.
    q = c.create("port", network_id=net["id"], fixed_ips=[{"ip_address": "10.46.0.10"}],
                 mac_address=p["mac_address"])
    assert q["fixed_ips"][0]["ip_address"] == "10.46.0.10"


def test_default_fixed_ips_fall_through_full_subnets(c):
    net, first = make_net(c, "10.47.0.0/30")  # one usable address
    time.sleep(1.05)  # creation order is known to the second only
    second = c.create("subnet", network_id=net["id"], cidr="10.47.1.0/24", ip_version=4)
    a = c.create("port", network_id=net["id"])
    b = c.create("port", network_id=net["id"])
    assert [f["subnet_id"] for f in a["fixed_ips"]] == [first["id"]]
    assert [f["subnet_id"] for f in b["fixed_ips"]] == [second["id"]]


def test_port_on_network_without_subnets(c):
    net, _ = make_net(c, None)
    p = c.create("port", network_id=net["id"])
    assert p["fixed_ips"] == []


def test_delete_in_use_is_409_and_frees_after(c, stack):
    net, sub = make_net(c, "10.48.0.0/24")
    p = c.create("port", network_id=net["id"])
    neutron_error(*c.delete(f"/v2.0/subnets/{sub['id']}"), 409, "SubnetInUse")
    neutron_error(*c.delete(f"/v2.0/networks/{net['id']}"), 409, "NetworkInUse")
    assert c.delete(f"/v2.0/ports/{p['id']}")[0] == 204
    assert held_claims(stack, subnet_id=sub["id"]) == []
    assert held_claims(stack, "mac_claims", network_id=net["id"]) == []
    assert c.delete(f"/v2.0/subnets/{sub['id']}")[0] == 204
    assert c.delete(f"/v2.0/networks/{net['id']}")[0] == 204
    neutron_error(*c.get(f"/v2.0/networks/{net['id']}"), 404)


def test_network_delete_takes_its_subnets(c):
    net, sub = make_net(c, "10.49.0.0/24")
    assert c.delete(f"/v2.0/networks/{net['id']}")[0] == 204
    neutron_error(*c.get(f"/v2.0/subnets/{sub['id']}"), 404)
