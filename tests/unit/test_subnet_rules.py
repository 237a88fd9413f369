"""Subnet create/update rules (netledger.services.api.subnet_rules, re-exported by ipam).

Every expectation is Neutron's observable behaviour: status, NeutronError type and (where
it is distinctive) message, taken from neutron / neutron-lib sources and their API tests.
"""

from __future__ import annotations

import itertools

import pytest

from netledger.errors import NeutronError
from netledger.services.api.ipam import normalize_subnet, normalize_subnet_update

NET = "5d4b3e2a-1f0c-4b8e-9a7d-6c5b4a3f2e1d"
POOL_ID = "0b7d1a44-7c6e-4c55-8f3e-0a9b8c7d6e5f"
MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")


def create(**body):
    body.setdefault("network_id", NET)
    return normalize_subnet(body, network_subnets=body.pop("_existing", []))


def v4(**body):
    return create(**{"ip_version": 4, "cidr": "10.0.0.0/24", **body})


def v6(**body):
    return create(**{"ip_version": 6, "cidr": "2001:db8::/64", **body})


def expect(fn, status, type_, message=None):
    with pytest.raises(NeutronError) as info:
        fn()
    err = info.value
    assert (err.status, err.type) == (status, type_), err.message
    if message is not None:
        assert message in err.message, err.message
    return err


def pools(*pairs):
    return [{"start": a, "end": b} for a, b in pairs]


# --- defaults -----------------------------------------------------------------------

@pytest.mark.parametrize("body, cidr, gateway, expected_pools", [
    ({"ip_version": 4, "cidr": "10.0.0.0/24"},
     "10.0.0.0/24", "10.0.0.1", [("10.0.0.2", "10.0.0.254")]),
    ({"ip_version": 4, "cidr": "10.0.0.0/30"},
     "10.0.0.0/30", "10.0.0.1", [("10.0.0.2", "10.0.0.2")]),
    # /31 and /32 need DHCP off; every address is usable, the default gateway is
    # network+1 (for a /32 that is outside the cidr, as in Neutron).
    ({"ip_version": 4, "cidr": "10.0.0.0/31", "enable_dhcp": False},
     "10.0.0.0/31", "10.0.0.1", [("10.0.0.0", "10.0.0.0")]),
    ({"ip_version": 4, "cidr": "10.14.0.20/32", "enable_dhcp": False},
     "10.14.0.20/32", "10.14.0.21", [("10.14.0.20", "10.14.0.20")]),
    # IPv6: gateway is the Subnet-Router anycast (network) address, pools from ::1.
    ({"ip_version": 6, "cidr": "2001:db8::/64"},
     "2001:db8::/64", "2001:db8::", [("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff")]),
    ({"ip_version": 6, "cidr": "2001:db8::/120"},
     "2001:db8::/120", "2001:db8::", [("2001:db8::1", "2001:db8::ff")]),
    ({"ip_version": 6, "cidr": "2001:db8::/127", "enable_dhcp": False},
     "2001:db8::/127", "2001:db8::", [("2001:db8::1", "2001:db8::1")]),
    # A single-address subnet's pool is that address even though it is the gateway.
    ({"ip_version": 6, "cidr": "2001:db8::5/128", "enable_dhcp": False},
     "2001:db8::5/128", "2001:db8::5", [("2001:db8::5", "2001:db8::5")]),
])
def test_default_gateway_and_pools(body, cidr, gateway, expected_pools):
    out = create(**body)
    assert out["cidr"] == cidr
    assert out["gateway_ip"] == gateway
    assert out["allocation_pools"] == pools(*expected_pools)


def test_defaults_for_all_other_fields():
    out = v4()
    assert out == {
        "cidr": "10.0.0.0/24", "ip_version": 4, "gateway_ip": "10.0.0.1",
        "allocation_pools": pools(("10.0.0.2", "10.0.0.254")),
        "dns_nameservers": [], "host_routes": [], "enable_dhcp": True,
        "ipv6_ra_mode": None, "ipv6_address_mode": None,
    }


@pytest.mark.parametrize("given, canonical", [
    ("10.0.0.5/24", "10.0.0.0/24"),  # host bits are rounded away, not refused
    ("10.129.122.5/8", "10.0.0.0/8"),
    ("16.129.122.5/28", "16.129.122.0/28"),
    ("10.0.0.0/255.255.255.0", "10.0.0.0/24"),
    ("2001:DB8:0:0::1/64", "2001:db8::/64"),
])
def test_cidr_is_canonicalized(given, canonical):
    version = 6 if ":" in given else 4
    assert create(ip_version=version, cidr=given)["cidr"] == canonical


def test_bare_address_is_a_host_cidr():
    # netaddr reads "10.0.2.0" as 10.0.2.0/32: accepted with DHCP off...
    assert v4(cidr="10.0.2.0", enable_dhcp=False, gateway_ip=None)["cidr"] == "10.0.2.0/32"
    # ...refused with DHCP on, which is how Neutron's test_create_subnet_bad_V4_cidr fails.
    expect(lambda: v4(cidr="10.0.2.0"), 400, "InvalidInput", "incompatible with DHCP")


# --- ip_version -------------------------------------------------------------------------

@pytest.mark.parametrize("value, status, type_, message", [
    ("abc", 400, "InvalidInput", "Invalid input for operation: 'abc' is not an integer."),
    (None, 400, "InvalidInput", "'None' is not an integer"),
    (5, 400, "HTTPBadRequest", "Invalid input for ip_version. Reason: 5 is not in valid_values."),
    ("7", 400, "HTTPBadRequest", "7 is not in valid_values"),
])
def test_bad_ip_version(value, status, type_, message):
    expect(lambda: create(ip_version=value, cidr="10.0.0.0/24"), status, type_, message)


def test_ip_version_as_string_is_accepted():
    assert create(ip_version="4", cidr="10.0.0.0/24")["ip_version"] == 4
    assert create(ip_version="6", cidr="2001:db8::/64")["ip_version"] == 6


def test_ip_version_is_required():
    expect(lambda: create(cidr="10.0.0.0/24"), 400, "HTTPBadRequest",
           "Required attribute 'ip_version' not specified")


@pytest.mark.parametrize("version, cidr", [(4, "2001:db8::/64"), (6, "10.0.0.0/24")])
def test_ip_version_must_match_cidr(version, cidr):
    expect(lambda: create(ip_version=version, cidr=cidr), 400, "InvalidInput",
           f"does not match the ip_version '{version}'")


# --- cidr ------------------------------------------------------------------------------------

@pytest.mark.parametrize("cidr", [
    "abc", "10.0.0.0/33", "10.0.0.256/24", "", "10.0.0.0/24 ", "fe80::1%eth0/64",
    "2001:db8::/129", "010.0.0.0/24", 42, ["10.0.0.0/24"],
])
def test_invalid_cidr_strings(cidr):
    expect(lambda: v4(cidr=cidr), 400, "InvalidInput", "is not in a CIDR format")


@pytest.mark.parametrize("body, message", [
    ({"ip_version": 6, "cidr": "::/64"}, "IPv6 subnet '::' is not supported"),
    ({"ip_version": 4, "cidr": "10.0.0.0/31"}, "incompatible with DHCP service enabled"),
    ({"ip_version": 4, "cidr": "10.0.0.0/32"}, "incompatible with DHCP service enabled"),
    ({"ip_version": 6, "cidr": "2001:db8::/127"}, "incompatible with DHCP service enabled"),
    ({"ip_version": 6, "cidr": "2001:db8::/128"}, "incompatible with DHCP service enabled"),
    ({"ip_version": 4, "cidr": "224.0.0.0/24"}, "Multicast IP subnet is not supported"),
    ({"ip_version": 6, "cidr": "ff05::/64"}, "Multicast IP subnet is not supported"),
    ({"ip_version": 4, "cidr": "127.0.0.0/24"}, "Loopback IP subnet is not supported"),
    ({"ip_version": 4, "cidr": "0.0.0.0/24"}, "First IP '0.0.0.0' of network"),
    ({"ip_version": 4, "cidr": "0.0.0.0/0", "enable_dhcp": False},
     "0 is not allowed as CIDR prefix length"),
])
def test_cidrs_neutron_refuses(body, message):
    expect(lambda: create(**body), 400, "InvalidInput", message)


def test_dhcp_off_lifts_the_dhcp_only_rules():
    assert create(ip_version=4, cidr="224.0.0.0/24", enable_dhcp=False)["cidr"] == "224.0.0.0/24"
    assert create(ip_version=4, cidr="127.0.0.0/24", enable_dhcp=False)["gateway_ip"] == "127.0.0.1"


# --- cidr vs. the network's other subnets ---------------------------------------------

@pytest.mark.parametrize("existing, cidr", [
    ("10.0.0.0/24", "10.0.0.0/24"),
    ("10.0.0.0/16", "10.0.5.0/24"),
    ("10.0.5.0/24", "10.0.0.0/16"),
    ("2001:db8::/48", "2001:db8:0:1::/64"),
])
def test_overlap_with_another_subnet(existing, cidr):
    version = 6 if ":" in cidr else 4
    others = [{"id": "other", "cidr": existing}]
    err = expect(lambda: create(ip_version=version, cidr=cidr, _existing=others), 400,
                 "InvalidInput")
    assert err.message == (f"Invalid input for operation: Requested subnet with cidr: {cidr} "
                           f"for network: {NET} overlaps with another subnet.")


@pytest.mark.parametrize("existing, cidr", [
    ("10.0.1.0/24", "10.0.0.0/24"),  # adjacent
    ("2001:db8::/64", "10.0.0.0/24"),  # other version
    ("10.0.0.128/25", "10.0.0.0/25"),
])
def test_no_overlap(existing, cidr):
    version = 6 if ":" in cidr else 4
    out = create(ip_version=version, cidr=cidr, _existing=[{"id": "o", "cidr": existing}])
    assert out["cidr"] == cidr


# --- prefixlen and subnet pools -----------------------------------------------------------

@pytest.mark.parametrize("body, message", [
    ({"ip_version": 4, "prefixlen": 24},
     "Bad subnets request: a subnetpool must be specified in the absence of a cidr."),
    ({"ip_version": 4},
     "Bad subnets request: a subnetpool must be specified in the absence of a cidr."),
    ({"ip_version": 4, "cidr": None},
     "a subnetpool must be specified in the absence of a cidr"),
    ({"ip_version": 4, "cidr": "10.0.0.0/24", "prefixlen": 24},
     "cidr and prefixlen must not be supplied together"),
    ({"ip_version": 4, "cidr": "10.0.0.0/24", "subnetpool_id": POOL_ID},
     "subnet pools are not supported"),
    ({"ip_version": 4, "prefixlen": 26, "subnetpool_id": POOL_ID},
     "subnet pools are not supported"),
    ({"ip_version": 4, "cidr": "10.0.0.0/24", "use_default_subnetpool": True},
     "No default subnetpool found for IPv4"),
    ({"ip_version": 4, "subnetpool_id": POOL_ID, "use_default_subnetpool": True},
     "subnetpool_id and use_default_subnetpool cannot both be specified"),
])
def test_no_subnet_pools(body, message):
    expect(lambda: create(**body), 400, "BadRequest", message)


@pytest.mark.parametrize("body, type_, message", [
    ({"subnetpool_id": "not-a-uuid"}, "HTTPBadRequest",
     "Invalid input for subnetpool_id. Reason: 'not-a-uuid' is not a valid UUID."),
    ({"prefixlen": -1, "cidr": None}, "HTTPBadRequest", "'-1' should be non-negative"),
    ({"prefixlen": "x"}, "InvalidInput", "'x' is not an integer"),
    ({"shared": False}, "HTTPBadRequest", "Attribute 'shared' not allowed in POST"),
])
def test_bad_pool_related_attributes(body, type_, message):
    expect(lambda: v4(**body), 400, type_, message)


def test_null_subnetpool_is_fine():
    assert v4(subnetpool_id=None, use_default_subnetpool=False)["cidr"] == "10.0.0.0/24"


# --- gateway_ip --------------------------------------------------------------------------------

@pytest.mark.parametrize("gateway, expected_pools", [
    (None, [("10.0.0.1", "10.0.0.254")]),
    ("10.0.0.254", [("10.0.0.1", "10.0.0.253")]),
    ("10.0.0.1", [("10.0.0.2", "10.0.0.254")]),
    ("10.0.0.50", [("10.0.0.1", "10.0.0.49"), ("10.0.0.51", "10.0.0.254")]),
    ("100.0.0.1", [("10.0.0.1", "10.0.0.254")]),  # outside the cidr: allowed by Neutron
])
def test_gateway_shapes_default_pools(gateway, expected_pools):
    out = v4(gateway_ip=gateway)
    assert out["gateway_ip"] == gateway
    assert out["allocation_pools"] == pools(*expected_pools)


@pytest.mark.parametrize("gateway, expected_gateway, expected_pools", [
    ("2001:db8::1", "2001:db8::1", [("2001:db8::2", "2001:db8::ffff:ffff:ffff:ffff")]),
    ("2001:db8::ffff:ffff:ffff:ffff", "2001:db8::ffff:ffff:ffff:ffff",
     [("2001:db8::1", "2001:db8::ffff:ffff:ffff:fffe")]),
    ("2001:db8::0", "2001:db8::", [("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff")]),
    ("fe80::1", "fe80::1", [("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff")]),
    ("2001:DB8:0::1", "2001:db8::1", [("2001:db8::2", "2001:db8::ffff:ffff:ffff:ffff")]),
])
def test_ipv6_gateways(gateway, expected_gateway, expected_pools):
    out = v6(gateway_ip=gateway)
    assert out["gateway_ip"] == expected_gateway
    assert out["allocation_pools"] == pools(*expected_pools)


@pytest.mark.parametrize("body, type_, message", [
    ({"gateway_ip": "10.0.0.0"}, "InvalidInput", "Gateway is not valid on subnet"),
    ({"gateway_ip": "10.0.0.255"}, "InvalidInput", "Gateway is not valid on subnet"),
    ({"gateway_ip": "10.0.0.0", "cidr": "10.0.0.0/31", "enable_dhcp": False},
     "InvalidInput", "Gateway is not valid on subnet"),
    ({"gateway_ip": "2001:db8::1"}, "InvalidInput",
     "gateway_ip '2001:db8::1' does not match the ip_version '4'"),
    ({"gateway_ip": "abc"}, "HTTPBadRequest",
     "Invalid input for gateway_ip. Reason: 'abc' is not a valid IP address."),
    ({"gateway_ip": "10.0.0.1/32"}, "HTTPBadRequest", "is not a valid IP address"),
    ({"gateway_ip": "10.0.0"}, "HTTPBadRequest", "is not a valid IP address"),
    ({"gateway_ip": 167772161}, "HTTPBadRequest", "is not a valid IP address"),
    ({"gateway_ip": "10.0.0.01"}, "HTTPBadRequest",
     "'10.0.0.01' is not an accepted IP address, '10.0.0.1' is recommended"),
])
def test_bad_gateways(body, type_, message):
    expect(lambda: v4(**body), 400, type_, message)


# --- allocation_pools ------------------------------------------------------------------------

def test_explicit_pools_are_sorted_and_kept():
    out = v4(allocation_pools=pools(("10.0.0.110", "10.0.0.150"), ("10.0.0.2", "10.0.0.100")))
    assert out["allocation_pools"] == pools(("10.0.0.2", "10.0.0.100"), ("10.0.0.110", "10.0.0.150"))


@pytest.mark.parametrize("body, expected", [
    ({"allocation_pools": []}, []),
    ({"allocation_pools": None}, []),
    ({"gateway_ip": None, "allocation_pools": pools(("10.0.0.1", "10.0.0.254"))},
     pools(("10.0.0.1", "10.0.0.254"))),
    ({"cidr": "10.14.0.20/31", "gateway_ip": "10.14.0.19", "enable_dhcp": False,
      "allocation_pools": pools(("10.14.0.20", "10.14.0.21"))},
     pools(("10.14.0.20", "10.14.0.21"))),
    ({"cidr": "fe80::/80", "ip_version": 6, "gateway_ip": "fe80::1",
      "allocation_pools": pools(("fe80::2", "FE80::ffff:fffa:ffff"))},
     pools(("fe80::2", "fe80::ffff:fffa:ffff"))),
])
def test_acceptable_pools(body, expected):
    assert v4(**body)["allocation_pools"] == expected


@pytest.mark.parametrize("body, status, type_, message", [
    ({"allocation_pools": pools(("10.0.0.2", "10.0.0.150"), ("10.0.0.140", "10.0.0.180"))},
     409, "OverlappingAllocationPools",
     "Found overlapping allocation pools: 10.0.0.2-10.0.0.150 10.0.0.140-10.0.0.180 "
     "for subnet 10.0.0.0/24."),
    ({"allocation_pools": pools(("10.0.0.2", "10.0.0.3"), ("10.0.0.2", "10.0.0.3"))},
     409, "OverlappingAllocationPools", None),
    ({"allocation_pools": pools(("10.0.0.2", "10.0.1.6"))}, 400, "OutOfBoundsAllocationPool",
     "The allocation pool 10.0.0.2-10.0.1.6 spans beyond the subnet cidr 10.0.0.0/24."),
    ({"allocation_pools": pools(("10.0.0.0", "10.0.0.50"))}, 400,
     "OutOfBoundsAllocationPool", None),
    ({"allocation_pools": pools(("10.0.0.200", "10.0.0.255"))}, 400,
     "OutOfBoundsAllocationPool", None),
    ({"allocation_pools": pools(("10.0.3.1", "10.0.3.20"))}, 400,
     "OutOfBoundsAllocationPool", None),
    ({"allocation_pools": pools(("10.0.0.10", "10.0.0.5"))}, 400, "InvalidAllocationPool",
     "The allocation pool {'start': '10.0.0.10', 'end': '10.0.0.5'} is not valid."),
    ({"allocation_pools": pools(("10.0.0.10", "fe80::5"))}, 400, "InvalidAllocationPool", None),
    ({"allocation_pools": pools(("fe80::2", "fe80::ffff"))}, 400, "InvalidAllocationPool",
     "The allocation pool fe80::2-fe80::ffff is not valid."),
    ({"gateway_ip": "10.0.0.50", "allocation_pools": pools(("10.0.0.1", "10.0.0.100"))},
     409, "GatewayConflictWithAllocationPools",
     "Gateway ip 10.0.0.50 conflicts with allocation pool 10.0.0.1-10.0.0.100."),
    # The *default* gateway (10.0.0.1) conflicts too.
    ({"allocation_pools": pools(("10.0.0.1", "10.0.0.5"))}, 409,
     "GatewayConflictWithAllocationPools", None),
    ({"allocation_pools": [{"end": "10.0.0.254"}]}, 400, "HTTPBadRequest",
     "Validation of dictionary's keys failed. Expected keys: {'end', 'start'} "
     "Provided keys: {'end'}"),
    ({"allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.9", "x": 1}]}, 400,
     "HTTPBadRequest", "Validation of dictionary's keys failed"),
    ({"allocation_pools": pools(("1000.0.0.254", "10.0.0.9"))}, 400, "HTTPBadRequest",
     "'1000.0.0.254' is not a valid IP address"),
    ({"allocation_pools": pools(("10.0.0.2", "10.0.0.256"))}, 400, "HTTPBadRequest",
     "'10.0.0.256' is not a valid IP address"),
    ({"allocation_pools": "10.0.0.2-10.0.0.9"}, 400, "InvalidInput",
     "Invalid data format for allocation pools"),
    ({"allocation_pools": ["10.0.0.2"]}, 400, "InvalidInput",
     "Invalid data format for allocation pools"),
    ({"allocation_pools": ({"start": "10.0.0.2", "end": "10.0.0.9"},)}, 400,
     "HTTPBadRequest", "Invalid data format for IP pool"),
])
def test_bad_pools(body, status, type_, message):
    expect(lambda: v4(**body), status, type_, message)


def test_ipv6_pool_may_not_include_network_address():
    expect(lambda: v6(gateway_ip=None, allocation_pools=pools(("2001:db8::", "2001:db8::9"))),
           400, "OutOfBoundsAllocationPool")


# --- dns_nameservers ---------------------------------------------------------------------------

def test_nameservers_are_kept_in_order_and_canonical():
    out = v6(dns_nameservers=["2001:DB8::53", "2001:4860:4860::8888"])
    assert out["dns_nameservers"] == ["2001:db8::53", "2001:4860:4860::8888"]
    assert v4(dns_nameservers=None)["dns_nameservers"] == []
    assert v4(dns_nameservers=["8.8.8.8", "1.1.1.1"])["dns_nameservers"] == ["8.8.8.8", "1.1.1.1"]


@pytest.mark.parametrize("servers, type_, message", [
    (["1100.0.0.2"], "HTTPBadRequest",
     "Invalid input for dns_nameservers. Reason: '1100.0.0.2' is not a valid nameserver. "
     "'1100.0.0.2' is not a valid IP address."),
    (["1.1.1.2", "1.1000.1.3"], "HTTPBadRequest", "'1.1000.1.3' is not a valid nameserver"),
    (["1.1.1.2", "1.1.1.2"], "HTTPBadRequest", "Duplicate nameserver '1.1.1.2'"),
    (["ns.example.com"], "HTTPBadRequest", "is not a valid nameserver"),
    (5, "HTTPBadRequest", "Invalid data format for nameserver: '5'"),
    (["2001:db8::53"], "InvalidInput",
     "dns_nameserver '2001:db8::53' does not match the ip_version '4'"),
    ([f"10.0.0.{i}" for i in range(1, 7)], "DNSNameServersExhausted",
     "Unable to complete operation for new subnet. The number of DNS nameservers "
     "exceeds the limit 5."),
])
def test_bad_nameservers(servers, type_, message):
    expect(lambda: v4(dns_nameservers=servers), 400, type_, message)


# --- host_routes ---------------------------------------------------------------------------------

def test_host_routes_are_canonical():
    routes = [{"destination": "2001:DB8:1::/48", "nexthop": "2001:db8:0:0::1"}]
    assert v6(host_routes=routes)["host_routes"] == [
        {"destination": "2001:db8:1::/48", "nexthop": "2001:db8::1"}]
    assert v4(host_routes=None)["host_routes"] == []
    assert v4(host_routes=[{"destination": "0.0.0.0/0", "nexthop": "10.0.0.9"}])[
        "host_routes"] == [{"destination": "0.0.0.0/0", "nexthop": "10.0.0.9"}]


@pytest.mark.parametrize("routes, type_, message", [
    ([{"destination": "100.0.0.0/24"}], "HTTPBadRequest",
     "Validation of dictionary's keys failed"),
    ([{"nexthop": "10.0.2.20"}], "HTTPBadRequest", "Validation of dictionary's keys failed"),
    (["100.0.0.0/8"], "HTTPBadRequest", "must be a dictionary with keys"),
    ([{"destination": "100.0.0.0/8", "nexthop": "10.0.2.20"}] * 2, "HTTPBadRequest",
     "Duplicate hostroute"),
    ([{"destination": "100.1.1.1/8", "nexthop": "10.0.2.20"}], "HTTPBadRequest",
     "'100.1.1.1/8' is not a valid CIDR"),
    ([{"destination": "100.1.1.1", "nexthop": "10.0.2.20"}], "HTTPBadRequest",
     "'100.1.1.1' is not a valid CIDR"),
    ([{"destination": "127.0.0.0/8", "nexthop": "10.0.2.20"}], "HTTPBadRequest",
     "'127.0.0.0/8' is not a routable CIDR"),
    ([{"destination": "100.0.0.0/8", "nexthop": "10.0.2"}], "HTTPBadRequest",
     "'10.0.2' is not a valid IP address"),
    ({"destination": "100.0.0.0/8", "nexthop": "10.0.2.20"}, "HTTPBadRequest",
     "Invalid data format for hostroute"),
    ([{"destination": "100.0.0.0/8", "nexthop": "2001:db8::1"}], "InvalidInput",
     "nexthop '2001:db8::1' does not match the ip_version '4'"),
    ([{"destination": "2001:db8::/64", "nexthop": "10.0.0.1"}], "InvalidInput",
     "destination '2001:db8::/64' does not match the ip_version '4'"),
    ([{"destination": f"100.{i}.0.0/16", "nexthop": "10.0.0.9"} for i in range(21)],
     "HostRoutesExhausted", "The number of host routes exceeds the limit 20."),
])
def test_bad_host_routes(routes, type_, message):
    expect(lambda: v4(host_routes=routes), 400, type_, message)


# --- enable_dhcp ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (True, True), (False, False), ("false", False), ("True", True), (0, False), ("yes", True),
])
def test_enable_dhcp_conversion(value, expected):
    assert v4(enable_dhcp=value)["enable_dhcp"] is expected


@pytest.mark.parametrize("value", [None, "maybe", 2])
def test_enable_dhcp_must_be_boolean(value):
    expect(lambda: v4(enable_dhcp=value), 400, "InvalidInput", "cannot be converted to boolean")


# --- IPv6 modes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("ra, addr", list(itertools.product((None,) + MODES, repeat=2)))
def test_ipv6_mode_combinations(ra, addr):
    body = {"ipv6_ra_mode": ra, "ipv6_address_mode": addr}
    if ra and addr and ra != addr:
        expect(lambda: v6(**body), 400, "InvalidInput",
               f"ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to '{addr}' is not "
               "valid. If both attributes are set, they must be the same value")
    else:
        out = v6(**body)
        assert (out["ipv6_ra_mode"], out["ipv6_address_mode"]) == (ra, addr)


@pytest.mark.parametrize("body, message", [
    ({"cidr": "2014::/65", "ipv6_address_mode": "slaac", "gateway_ip": "fe80::1"},
     "Invalid CIDR 2014::/65 for IPv6 address mode. OpenStack uses the EUI-64 address "
     "format, which requires the prefix to be /64"),
    ({"cidr": "2001:db8::/120", "ipv6_ra_mode": "dhcpv6-stateless"}, "requires the prefix"),
    ({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac", "enable_dhcp": False},
     "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False"),
])
def test_ipv6_mode_rules(body, message):
    expect(lambda: v6(**body), 400, "InvalidInput", message)


def test_stateful_mode_allows_any_prefix():
    out = v6(cidr="2001:db8::/120", ipv6_address_mode="dhcpv6-stateful")
    assert out["ipv6_address_mode"] == "dhcpv6-stateful"


@pytest.mark.parametrize("attr", ["ipv6_ra_mode", "ipv6_address_mode"])
def test_ipv6_modes_on_ipv4(attr):
    expect(lambda: v4(**{attr: "dhcpv6-stateful"}), 400, "InvalidInput",
           f"{attr} is not valid when ip_version is 4")


@pytest.mark.parametrize("attr", ["ipv6_ra_mode", "ipv6_address_mode"])
def test_unknown_ipv6_mode(attr):
    expect(lambda: v6(**{attr: "foo"}), 400, "HTTPBadRequest",
           f"Invalid input for {attr}. Reason: foo is not in valid_values.")


# --- update ---------------------------------------------------------------------------------------

@pytest.fixture
def stored():
    subnet = v4(allocation_pools=pools(("10.0.0.2", "10.0.0.254")))
    return {**subnet, "id": "sub-1", "network_id": NET, "name": "old"}


@pytest.mark.parametrize("attr, value", [
    ("cidr", "10.0.0.0/24"), ("cidr", "10.1.0.0/24"), ("ip_version", 4), ("ip_version", 6),
    ("network_id", NET), ("subnetpool_id", None), ("prefixlen", 24),
    ("ipv6_ra_mode", "slaac"), ("ipv6_address_mode", "slaac"), ("shared", True),
])
def test_update_read_only(stored, attr, value):
    expect(lambda: normalize_subnet_update(stored, {attr: value}), 400, "HTTPBadRequest",
           f"Cannot update read-only attribute {attr}")


def test_update_merges(stored):
    out = normalize_subnet_update(stored, {"name": "new", "dns_nameservers": ["8.8.8.8"],
                                           "host_routes": [{"destination": "10.9.0.0/16",
                                                            "nexthop": "10.0.0.9"}]})
    assert out["name"] == "new" and out["id"] == "sub-1" and out["network_id"] == NET
    assert out["dns_nameservers"] == ["8.8.8.8"]
    assert out["host_routes"] == [{"destination": "10.9.0.0/16", "nexthop": "10.0.0.9"}]
    assert out["allocation_pools"] == stored["allocation_pools"]
    assert out["gateway_ip"] == "10.0.0.1"


@pytest.mark.parametrize("changes, gateway, expected_pools", [
    ({"gateway_ip": None}, None, [("10.0.0.2", "10.0.0.254")]),
    ({"gateway_ip": "100.0.0.1"}, "100.0.0.1", [("10.0.0.2", "10.0.0.254")]),
    ({"allocation_pools": pools(("10.0.0.30", "10.0.0.40"), ("10.0.0.10", "10.0.0.20"))},
     "10.0.0.1", [("10.0.0.10", "10.0.0.20"), ("10.0.0.30", "10.0.0.40")]),
    ({"allocation_pools": pools(("10.0.0.10", "10.0.0.20")), "gateway_ip": "10.0.0.9"},
     "10.0.0.9", [("10.0.0.10", "10.0.0.20")]),
    ({"allocation_pools": None}, "10.0.0.1", []),
    # Gateway moves are checked against the existing pools, pools are not regenerated.
    ({"gateway_ip": "10.0.0.1"}, "10.0.0.1", [("10.0.0.2", "10.0.0.254")]),
])
def test_update_gateway_and_pools(stored, changes, gateway, expected_pools):
    out = normalize_subnet_update(stored, changes)
    assert out["gateway_ip"] == gateway
    assert out["allocation_pools"] == pools(*expected_pools)


@pytest.mark.parametrize("changes, status, type_", [
    ({"gateway_ip": "10.0.0.50"}, 409, "GatewayConflictWithAllocationPools"),
    ({"allocation_pools": pools(("10.0.0.1", "10.0.0.254"))}, 409,
     "GatewayConflictWithAllocationPools"),
    ({"allocation_pools": pools(("10.0.0.20", "10.0.0.40"), ("10.0.0.30", "10.0.0.50"))},
     409, "OverlappingAllocationPools"),
    ({"allocation_pools": pools(("10.0.0.10", "10.0.0.20")), "gateway_ip": "10.0.0.15"},
     409, "GatewayConflictWithAllocationPools"),
    ({"allocation_pools": pools(("10.0.1.10", "10.0.1.20"))}, 400, "OutOfBoundsAllocationPool"),
    ({"allocation_pools": pools(("fe80::2", "fe80::ffff"))}, 400, "InvalidAllocationPool"),
    ({"allocation_pools": pools(("10.0.2.10", "10.0.2.5"))}, 400, "InvalidAllocationPool"),
    ({"allocation_pools": [{"start": "10.0.0.254"}]}, 400, "HTTPBadRequest"),
    ({"gateway_ip": "10.0.0.0"}, 400, "InvalidInput"),
    ({"gateway_ip": "2001:db8::1"}, 400, "InvalidInput"),
    ({"dns_nameservers": ["2001:db8::53"]}, 400, "InvalidInput"),
    ({"host_routes": [{"destination": "2001:db8::/64", "nexthop": "10.0.0.1"}]},
     400, "InvalidInput"),
    ({"dns_nameservers": [f"10.0.0.{i}" for i in range(1, 7)]}, 400,
     "DNSNameServersExhausted"),
    ({"enable_dhcp": "perhaps"}, 400, "InvalidInput"),
])
def test_update_errors(stored, changes, status, type_):
    expect(lambda: normalize_subnet_update(stored, changes), status, type_)


def test_update_exhaustion_message_names_the_subnet(stored):
    expect(lambda: normalize_subnet_update(stored, {"dns_nameservers": [
        f"10.0.0.{i}" for i in range(1, 7)]}), 400, "DNSNameServersExhausted",
        "Unable to complete operation for sub-1.")


def test_update_enabling_dhcp_rechecks_the_prefix():
    subnet = {**v4(cidr="10.0.0.0/31", enable_dhcp=False), "id": "s"}
    expect(lambda: normalize_subnet_update(subnet, {"enable_dhcp": True}), 400,
           "InvalidInput", "incompatible with DHCP")
    # A subnet that already has DHCP is not re-judged (Neutron avoids agent re-syncs).
    legacy = {**subnet, "enable_dhcp": True}
    assert normalize_subnet_update(legacy, {"enable_dhcp": True})["enable_dhcp"] is True


def test_update_cannot_disable_dhcp_on_ipv6_auto_subnet():
    subnet = {**v6(ipv6_ra_mode="slaac", ipv6_address_mode="slaac"), "id": "s6"}
    expect(lambda: normalize_subnet_update(subnet, {"enable_dhcp": False}), 400,
           "InvalidInput", "Cannot disable enable_dhcp with ipv6 attributes set")
    plain = {**v6(), "id": "s7"}
    assert normalize_subnet_update(plain, {"enable_dhcp": False})["enable_dhcp"] is False


def test_update_gateway_held_by_router(stored):
    expect(lambda: normalize_subnet_update(stored, {"gateway_ip": "10.0.0.254"},
                                           gateway_port_id="port-9"),
           409, "GatewayIpInUse",
           "Current gateway ip 10.0.0.1 already in use by port port-9. Unable to update.")
    same = normalize_subnet_update(stored, {"gateway_ip": "10.0.0.1"}, gateway_port_id="port-9")
    assert same["gateway_ip"] == "10.0.0.1"
    untouched = normalize_subnet_update(stored, {"name": "x"}, gateway_port_id="port-9")
    assert untouched["gateway_ip"] == "10.0.0.1"
