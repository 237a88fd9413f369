"""IPAM (netledger.services.api.ipam): pools, picking, fixed IPs, MACs, EUI-64, UUIDs.

Expectations are Neutron's (neutron.ipam.utils, ipam backends, neutron-lib validators):
status, NeutronError type and, where distinctive, the message.
"""

from __future__ import annotations

import ipaddress
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netledger.errors import NeutronError
from netledger.services.api.ipam import (
    DEFAULT_BASE_MAC,
    DefaultFixedIps,
    check_fixed_ip,
    ensure_mac_available,
    eui64,
    generate_mac,
    in_pools,
    normalize_mac,
    normalize_subnet,
    pick_free_ips,
    pick_from_any_subnet,
    plan_default_fixed_ips,
    pool_size,
    resolve_fixed_ips,
    validate_uuid,
)

NET = "net-1"
S4 = "11111111-1111-4111-8111-111111111111"
S4B = "22222222-2222-4222-8222-222222222222"
S6 = "66666666-6666-4666-8666-666666666666"
SLAAC = "77777777-7777-4777-8777-777777777777"
ELSEWHERE = "99999999-9999-4999-8999-999999999999"
MAC = "fa:16:3e:00:00:01"


def subnet(sid, cidr, **body):
    version = ipaddress.ip_network(cidr, strict=False).version
    out = normalize_subnet({"cidr": cidr, "ip_version": version, **body}, network_subnets=[])
    return {**out, "id": sid, "network_id": NET}


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


def in_any_pool(ip, sub):
    return in_pools(ip, sub["allocation_pools"])


# --- pools ------------------------------------------------------------------------------

@pytest.mark.parametrize("given_pools, size", [
    ([], 0),
    (pools(("10.0.0.2", "10.0.0.254")), 253),
    (pools(("10.0.0.5", "10.0.0.5")), 1),
    (pools(("10.0.0.2", "10.0.0.9"), ("10.0.0.20", "10.0.0.29")), 18),
    (pools(("2001:db8::1", "2001:db8::ffff:ffff:ffff:ffff")), 2**64 - 1),
])
def test_pool_size(given_pools, size):
    assert pool_size(given_pools) == size


@pytest.mark.parametrize("ip, inside", [
    ("10.0.0.2", True), ("10.0.0.9", True), ("10.0.0.10", False), ("10.0.0.25", True),
    ("10.0.0.1", False), ("not-an-ip", False), ("2001:db8::5", False), ("::a00:5", False),
])
def test_in_pools(ip, inside):
    assert in_pools(ip, pools(("10.0.0.2", "10.0.0.9"), ("10.0.0.20", "10.0.0.29"))) is inside


# --- pick_free_ips --------------------------------------------------------------------------

def test_picks_are_distinct_free_and_in_pools():
    sub = subnet(S4, "10.0.0.0/24")
    used = {f"10.0.0.{i}" for i in range(2, 200)}
    picked = pick_free_ips(sub, used, 20, random.Random(7), exclude={"10.0.0.250"})
    assert len(picked) == len(set(picked)) == 20
    assert all(in_any_pool(ip, sub) and ip not in used and ip != "10.0.0.250" for ip in picked)


def test_exact_fit_takes_every_remaining_address():
    sub = subnet(S4, "10.0.0.0/29")  # pool 10.0.0.2-10.0.0.6
    picked = pick_free_ips(sub, {"10.0.0.3"}, 4, random.Random(1))
    assert sorted(picked) == ["10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"]


def test_full_subnet_raises_generation_failure():
    sub = subnet(S4, "10.0.0.0/29")
    used = {f"10.0.0.{i}" for i in range(2, 7)}
    expect(lambda: pick_free_ips(sub, used, 1, random.Random(1)), 409,
           "IpAddressGenerationFailure", "No more IP addresses available on network net-1.")
    expect(lambda: pick_free_ips(sub, set(), 6, random.Random(1)), 409,
           "IpAddressGenerationFailure")


def test_used_addresses_outside_pools_do_not_count():
    sub = subnet(S4, "10.0.0.0/29")
    # gateway, broadcast, foreign and junk entries leave all 5 pool addresses free
    used = {"10.0.0.1", "10.0.0.7", "192.168.0.3", "2001:db8::1", "junk"}
    assert len(pick_free_ips(sub, used, 5, random.Random(3))) == 5


def test_zero_count_and_no_pools():
    sub = subnet(S4, "10.0.0.0/24", allocation_pools=[])
    assert pick_free_ips(sub, set(), 0, random.Random(1)) == []
    expect(lambda: pick_free_ips(sub, set(), 1, random.Random(1)), 409,
           "IpAddressGenerationFailure")
    with pytest.raises(ValueError):
        pick_free_ips(sub, set(), -1, random.Random(1))


def test_same_seed_same_picks_and_not_lowest_first():
    sub = subnet(S4, "10.0.0.0/24")
    assert pick_free_ips(sub, set(), 3, random.Random(42)) == \
        pick_free_ips(sub, set(), 3, random.Random(42))
    firsts = {pick_free_ips(sub, set(), 1, random.Random(seed))[0] for seed in range(20)}
    assert len(firsts) > 5  # spread out, so concurrent allocators rarely collide


def test_huge_ipv6_pool_is_not_enumerated():
    sub = subnet(S6, "2001:db8::/64")
    used = {"2001:db8::1", "2001:db8::2"}
    picked = pick_free_ips(sub, used, 1000, random.Random(5))
    assert len(set(picked)) == 1000
    assert all(in_any_pool(ip, sub) and ip not in used for ip in picked)
    assert all(ipaddress.ip_address(ip).version == 6 for ip in picked)


def test_nearly_full_large_pool_falls_back_to_a_walk():
    # 70,000 pool addresses (sampled, not enumerated) of which only 3 are free.
    sub = subnet(S4, "10.0.0.0/8", gateway_ip=None,
                 allocation_pools=pools(("10.0.0.1", "10.1.17.112")))
    assert pool_size(sub["allocation_pools"]) == 70000
    everything = [str(ipaddress.IPv4Address(i)) for i in range(
        int(ipaddress.IPv4Address("10.0.0.1")), int(ipaddress.IPv4Address("10.1.17.112")) + 1)]
    free = {everything[10], everything[40000], everything[-1]}
    used = set(everything) - free
    assert set(pick_free_ips(sub, used, 3, random.Random(9))) == free
    expect(lambda: pick_free_ips(sub, used, 4, random.Random(9)), 409,
           "IpAddressGenerationFailure")


def test_nearly_full_slash_24():
    sub = subnet(S4, "10.0.0.0/24")
    used = {f"10.0.0.{i}" for i in range(2, 255)} - {"10.0.0.77", "10.0.0.200"}
    assert sorted(pick_free_ips(sub, used, 2, random.Random(0))) == ["10.0.0.200", "10.0.0.77"]


_POOL_BASE = int(ipaddress.IPv4Address("10.0.0.0"))


@st.composite
def pool_scenarios(draw):
    """Disjoint pools inside 10.0.0.0/20, a random used set, and a count."""
    cuts = sorted(draw(st.sets(st.integers(1, 4094), min_size=2, max_size=8)))
    ranges = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]
    as_pools = pools(*[(str(ipaddress.IPv4Address(_POOL_BASE + a)),
                        str(ipaddress.IPv4Address(_POOL_BASE + b))) for a, b in ranges])
    addresses = st.integers(0, 4095).map(lambda i: str(ipaddress.IPv4Address(_POOL_BASE + i)))
    used = draw(st.sets(addresses, max_size=300))
    count = draw(st.integers(0, 40))
    return as_pools, used, count


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pool_scenarios(), st.integers(0, 2**32))
def test_property_picks_lie_in_pools_outside_used(scenario, seed):
    as_pools, used, count = scenario
    sub = {"id": S4, "network_id": NET, "ip_version": 4, "cidr": "10.0.0.0/20",
           "allocation_pools": as_pools}
    free = pool_size(as_pools) - sum(in_pools(ip, as_pools) for ip in used)
    if count > free:
        expect(lambda: pick_free_ips(sub, used, count, random.Random(seed)), 409,
               "IpAddressGenerationFailure")
        return
    picked = pick_free_ips(sub, used, count, random.Random(seed))
    assert len(picked) == len(set(picked)) == count
    assert all(in_pools(ip, as_pools) and ip not in used for ip in picked)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**64 - 2), st.integers(1, 2**20), st.integers(1, 30), st.integers())
def test_property_large_ipv6_pools(offset, length, count, seed):
    base = int(ipaddress.IPv6Address("2001:db8::"))
    first = base + offset
    last = min(first + length, base + 2**64 - 1)
    as_pools = pools((str(ipaddress.IPv6Address(first)), str(ipaddress.IPv6Address(last))))
    sub = {"id": S6, "network_id": NET, "ip_version": 6, "cidr": "2001:db8::/64",
           "allocation_pools": as_pools}
    used = {str(ipaddress.IPv6Address(first)), str(ipaddress.IPv6Address(last))}
    count = min(count, last - first + 1 - len(used))
    picked = pick_free_ips(sub, used, max(count, 0), random.Random(seed))
    assert len(set(picked)) == max(count, 0)
    assert all(in_pools(ip, as_pools) and ip not in used for ip in picked)


def test_pick_from_any_subnet_skips_full_subnets():
    full = subnet(S4, "10.0.0.0/30")  # one address: 10.0.0.2
    roomy = subnet(S4B, "10.0.1.0/24")
    used = {S4: {"10.0.0.2"}}
    sid, ip = pick_from_any_subnet([full, roomy], used, random.Random(2), network_id=NET)
    assert sid == S4B and in_any_pool(ip, roomy)
    assert pick_from_any_subnet([full, roomy], {}, random.Random(2), network_id=NET) == \
        (S4, "10.0.0.2")
    expect(lambda: pick_from_any_subnet([full], used, random.Random(2), network_id=NET),
           409, "IpAddressGenerationFailure", "network net-1")


# --- check_fixed_ip --------------------------------------------------------------------------

@pytest.mark.parametrize("cidr, ip, owner, expected", [
    ("10.0.0.0/24", "10.0.0.5", "", "10.0.0.5"),
    ("10.0.0.0/24", "10.0.0.1", "compute:nova", "10.0.0.1"),  # the gateway: allowed
    ("10.0.0.0/24", "10.0.0.254", "", "10.0.0.254"),
    ("10.0.0.0/31", "10.0.0.1", "", "10.0.0.1"),
    ("2001:db8::/64", "2001:DB8::0:5", "", "2001:db8::5"),
    ("2001:db8::/64", "2001:db8::", "network:router_interface", "2001:db8::"),
    ("2001:db8::/64", "2001:db8::", "network:router_gateway", "2001:db8::"),
    ("2001:db8::/64", "2001:db8::", "", "2001:db8::"),  # owner unknown: allowed
])
def test_check_fixed_ip_accepts(cidr, ip, owner, expected):
    sub = subnet(S4, cidr, enable_dhcp=False)
    assert check_fixed_ip(sub, ip, network_id=NET, device_owner=owner) == expected


@pytest.mark.parametrize("cidr, ip, owner", [
    ("10.0.0.0/24", "10.0.1.5", ""),
    ("10.0.0.0/24", "10.0.0.0", ""),
    ("10.0.0.0/24", "10.0.0.255", ""),
    ("10.0.0.0/31", "10.0.0.0", ""),  # netaddr: a /31's first address is its network
    ("10.0.0.5/32", "10.0.0.5", ""),
    ("10.0.0.0/24", "2001:db8::5", ""),
    ("2001:db8::/64", "10.0.0.5", ""),
    ("2001:db8::/64", "2001:db8::", "compute:nova"),
])
def test_check_fixed_ip_rejects(cidr, ip, owner):
    sub = subnet(S4, cidr, enable_dhcp=False)
    expect(lambda: check_fixed_ip(sub, ip, network_id=NET, device_owner=owner), 400,
           "InvalidIpForSubnet", f"IP address {ip} is not a valid IP for the specified subnet.")


@pytest.mark.parametrize("ip, message", [
    ("10.0.0", "'10.0.0' is not a valid IP address"),
    ("10.0.0.05", "'10.0.0.05' is not an accepted IP address, '10.0.0.5' is recommended"),
    (None, "'None' is not a valid IP address"),
])
def test_check_fixed_ip_malformed(ip, message):
    sub = subnet(S4, "10.0.0.0/24")
    expect(lambda: check_fixed_ip(sub, ip, network_id=NET), 400, "HTTPBadRequest",
           f"Invalid input for fixed_ips. Reason: {message}.")


def test_check_fixed_ip_already_allocated():
    sub = subnet(S6, "2001:db8::/64")
    expect(lambda: check_fixed_ip(sub, "2001:db8::5", network_id=NET,
                                  used={"2001:DB8:0::5"}),
           409, "IpAddressAlreadyAllocated",
           f"IP address 2001:db8::5 already allocated in subnet {S6}")


# --- resolve_fixed_ips -----------------------------------------------------------------------

@pytest.fixture
def network():
    return [subnet(S4, "10.0.0.0/24"), subnet(S4B, "10.0.1.0/24"),
            subnet(S6, "2001:db8:1::/64", ipv6_address_mode="dhcpv6-stateful",
                   ipv6_ra_mode="dhcpv6-stateful")]


@pytest.mark.parametrize("requested, expected", [
    ([], []),
    ([{"subnet_id": S4}], [(S4, None)]),
    ([{"subnet_id": S4}, {"subnet_id": S4}], [(S4, None), (S4, None)]),  # two addresses
    ([{"ip_address": "10.0.1.7"}], [(S4B, "10.0.1.7")]),
    ([{"subnet_id": S4B, "ip_address": "10.0.1.7"}], [(S4B, "10.0.1.7")]),
    ([{"subnet_id": S4.upper()}], [(S4, None)]),
    ([{"ip_address": "2001:DB8:1::9"}, {"subnet_id": S4}], [(S6, "2001:db8:1::9"), (S4, None)]),
    ([{"ip_address": "10.0.0.1"}], [(S4, "10.0.0.1")]),  # the gateway, as Neutron allows
])
def test_resolve_fixed_ips(network, requested, expected):
    assert resolve_fixed_ips(requested, network, network_id=NET) == expected


@pytest.mark.parametrize("requested, status, type_, message", [
    ([{"ip_address": "192.168.0.5"}], 400, "InvalidIpForNetwork",
     "IP address 192.168.0.5 is not a valid IP for any of the subnets on the specified "
     "network."),
    ([{"ip_address": "10.0.0.0"}], 400, "InvalidIpForNetwork", None),
    ([{"subnet_id": S4, "ip_address": "10.0.1.7"}], 400, "InvalidIpForSubnet",
     "IP address 10.0.1.7 is not a valid IP for the specified subnet."),
    ([{"subnet_id": ELSEWHERE}], 400, "InvalidInput",
     f"Failed to create port on network {NET}, because fixed_ips included invalid subnet "
     f"{ELSEWHERE}"),
    ([{"ip_address": "10.0.0.5"}, {"ip_address": "10.0.0.5"}], 400, "HTTPBadRequest",
     "Invalid input for fixed_ips. Reason: Duplicate IP address '10.0.0.5'."),
    ([{"ip_address": "2001:db8:1::5"}, {"ip_address": "2001:DB8:1::5"}], 400,
     "HTTPBadRequest", "Duplicate IP address"),
    ([{"subnet_id": "nope"}], 400, "HTTPBadRequest", "'nope' is not a valid UUID"),
    ([{"ip_address": "10.0.0.300"}], 400, "HTTPBadRequest", "is not a valid IP address"),
    ([{}], 400, "InvalidInput", "IP allocation requires subnet_id or ip_address"),
    ([{"foo": "bar"}], 400, "InvalidInput", "IP allocation requires subnet_id or ip_address"),
    (["10.0.0.5"], 400, "HTTPBadRequest", "Invalid data format for fixed IP: '10.0.0.5'"),
    ({"subnet_id": S4}, 400, "HTTPBadRequest", "Invalid data format for fixed IP"),
])
def test_resolve_fixed_ips_errors(network, requested, status, type_, message):
    expect(lambda: resolve_fixed_ips(requested, network, network_id=NET), status, type_, message)


def test_unknown_subnet_is_404_when_known_ids_are_given(network):
    known = {S4, S4B, S6, ELSEWHERE}
    expect(lambda: resolve_fixed_ips([{"subnet_id": ELSEWHERE}], network, network_id=NET,
                                     known_subnet_ids=known), 400, "InvalidInput")
    ghost = "88888888-8888-4888-8888-888888888888"
    expect(lambda: resolve_fixed_ips([{"subnet_id": ghost}], network, network_id=NET,
                                     known_subnet_ids=known), 404, "SubnetNotFound",
           f"Subnet {ghost} could not be found.")


def test_network_without_subnets():
    expect(lambda: resolve_fixed_ips([{"subnet_id": S4}], [], network_id=NET), 400,
           "InvalidInput", "IP allocation requires subnets for network")
    assert resolve_fixed_ips([], [], network_id=NET) == []


def test_absent_fixed_ips_is_a_different_function():
    with pytest.raises(ValueError):
        resolve_fixed_ips(None, [], network_id=NET)


@pytest.fixture
def dual_stack(network):
    return network + [subnet(SLAAC, "2001:db8:2::/64", ipv6_ra_mode="slaac",
                             ipv6_address_mode="slaac")]


SLAAC_IP = "2001:db8:2:0:f816:3eff:fe00:1"  # RFC 5952: a lone zero group stays


def test_auto_address_subnets_add_eui64(dual_stack):
    got = resolve_fixed_ips([{"subnet_id": S4}], dual_stack, network_id=NET, mac_address=MAC)
    assert got == [(S4, None), (SLAAC, SLAAC_IP)]
    # asking for the SLAAC subnet (or its EUI-64 address) yields the address once
    for entry in ({"subnet_id": SLAAC}, {"ip_address": SLAAC_IP},
                  {"subnet_id": SLAAC, "ip_address": SLAAC_IP}):
        assert resolve_fixed_ips([entry], dual_stack, network_id=NET,
                                 mac_address=MAC) == [(SLAAC, SLAAC_IP)]


def test_other_addresses_on_auto_subnets_are_refused(dual_stack):
    expect(lambda: resolve_fixed_ips([{"ip_address": "2001:db8:2::5"}], dual_stack,
                                     network_id=NET, mac_address=MAC),
           400, "AllocationOnAutoAddressSubnet",
           f"IPv6 address 2001:db8:2::5 cannot be directly assigned to a port on subnet "
           f"{SLAAC} as the subnet is configured for automatic addresses")


def test_router_interfaces_on_auto_subnets(dual_stack):
    owner = "network:router_interface"
    got = resolve_fixed_ips([{"subnet_id": SLAAC}], dual_stack, network_id=NET,
                            device_owner=owner, mac_address=MAC)
    assert got == [(SLAAC, None)]
    got = resolve_fixed_ips([{"ip_address": "2001:db8:2::1"}], dual_stack, network_id=NET,
                            device_owner=owner)
    assert got == [(SLAAC, "2001:db8:2::1")]
    assert resolve_fixed_ips([{"subnet_id": S4}], dual_stack, network_id=NET,
                             device_owner=owner) == [(S4, None)]


def test_without_a_mac_auto_addresses_are_left_to_the_caller(dual_stack):
    got = resolve_fixed_ips([{"subnet_id": S4}], dual_stack, network_id=NET)
    assert got == [(S4, None), (SLAAC, None)]
    # the port's existing SLAAC address (e.g. echoed back on update) is not refused
    got = resolve_fixed_ips([{"ip_address": SLAAC_IP}], dual_stack, network_id=NET)
    assert got == [(SLAAC, SLAAC_IP)]
    assert plan_default_fixed_ips(dual_stack).eui64 == ((SLAAC, None),)


def test_pools_may_be_event_structs():
    from netledger.libs.events.subnet import Pool
    structs = (Pool(start="10.0.0.2", end="10.0.0.9"), Pool(start="10.0.0.20", end="10.0.0.21"))
    assert pool_size(structs) == 10 and in_pools("10.0.0.21", structs)


@pytest.mark.parametrize("owner, expected", [
    ("compute:nova", DefaultFixedIps(any_of=((S4, S4B), (S6,)), eui64=((SLAAC, SLAAC_IP),))),
    ("network:dhcp", DefaultFixedIps(any_of=((S4, S4B), (S6,)), eui64=((SLAAC, SLAAC_IP),))),
    ("network:router_interface", DefaultFixedIps(any_of=((S4, S4B), (S6,)), eui64=())),
])
def test_plan_default_fixed_ips(dual_stack, owner, expected):
    assert plan_default_fixed_ips(dual_stack, device_owner=owner, mac_address=MAC) == expected


def test_plan_default_fixed_ips_single_stack():
    assert plan_default_fixed_ips([subnet(S4, "10.0.0.0/24")]) == DefaultFixedIps(any_of=((S4,),))
    assert plan_default_fixed_ips([]) == DefaultFixedIps()


# --- EUI-64 --------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix, mac, expected", [
    ("2001:db8::/64", "fa:16:3e:00:00:01", "2001:db8::f816:3eff:fe00:1"),
    ("2001:db8:1:2::/64", "00:16:3e:33:44:55", "2001:db8:1:2:216:3eff:fe33:4455"),
    ("fe80::/64", "02:00:00:00:00:00", "fe80::ff:fe00:0"),
    ("2001:db8::/64", "FA-16-3E-00-00-01", "2001:db8::f816:3eff:fe00:1"),
])
def test_eui64(prefix, mac, expected):
    assert eui64(prefix, mac) == expected


def test_eui64_needs_ipv6():
    with pytest.raises(ValueError):
        eui64("10.0.0.0/24", MAC)
    expect(lambda: eui64("2001:db8::/64", "zz"), 400, "HTTPBadRequest")


# --- MAC addresses -----------------------------------------------------------------------------

@pytest.mark.parametrize("given_mac, expected", [
    ("fa:16:3e:00:00:01", "fa:16:3e:00:00:01"),
    ("FA:16:3E:4F:00:0A", "fa:16:3e:4f:00:0a"),
    ("fa-16-3e-4f-00-0a", "fa:16:3e:4f:00:0a"),
    ("fa16.3e4f.000a", "fa:16:3e:4f:00:0a"),
    ("fa163e4f000a", "fa:16:3e:4f:00:0a"),
    ("fa163e:4f000a", "fa:16:3e:4f:00:0a"),
    ("a:b:c:d:e:f", "0a:0b:0c:0d:0e:0f"),
    ("ff:16:3e:4f:00:00", "ff:16:3e:4f:00:00"),  # multicast: neutron-lib lets it through
])
def test_normalize_mac(given_mac, expected):
    assert normalize_mac(given_mac) == expected


@pytest.mark.parametrize("bad", [
    "ffa:16:3e:4f:00:00", "123", None, "ff:16:3e:4f:00:00\r", " fa:16:3e:00:00:01",
    "00:00:00:00:00:00", "FF:FF:FF:FF:FF:FF", "ff-ff-ff-ff-ff-ff", "fa:16:3e:00:00",
    "fa:16-3e:00:00:01", "gg:16:3e:00:00:01", 42,
])
def test_invalid_macs(bad):
    expect(lambda: normalize_mac(bad), 400, "HTTPBadRequest",
           f"Invalid input for mac_address. Reason: '{bad}' is not a valid MAC address.")


def test_multicast_mac_can_be_refused():
    expect(lambda: normalize_mac("01:00:5e:00:00:01", reject_multicast=True), 400,
           "HTTPBadRequest", "is a multicast address, which is not supported")
    assert normalize_mac("fa:16:3e:00:00:01", reject_multicast=True) == "fa:16:3e:00:00:01"


def test_generate_mac_keeps_the_base_prefix():
    macs = {generate_mac(DEFAULT_BASE_MAC, random.Random(seed)) for seed in range(50)}
    assert len(macs) == 50
    assert all(m.startswith("fa:16:3e:") and normalize_mac(m) == m for m in macs)
    assert generate_mac(DEFAULT_BASE_MAC, random.Random(3)) == \
        generate_mac(DEFAULT_BASE_MAC, random.Random(3))


def test_generate_mac_keeps_a_nonzero_fourth_octet():
    macs = {generate_mac("fa:16:3e:7a:00:00", random.Random(s)) for s in range(20)}
    assert all(m.startswith("fa:16:3e:7a:") for m in macs) and len(macs) == 20
    with pytest.raises(ValueError):
        generate_mac("fa:16:3e", random.Random(1))


def test_ensure_mac_available():
    assert ensure_mac_available("FA:16:3E:00:00:02", {MAC}, network_id=NET) == "fa:16:3e:00:00:02"
    expect(lambda: ensure_mac_available("fa-16-3e-00-00-01", {"FA:16:3E:00:00:01"},
                                        network_id=NET),
           409, "MacAddressInUse",
           "Unable to complete operation for network net-1. The mac address "
           "fa:16:3e:00:00:01 is in use.")


# --- UUIDs ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("given_id, expected", [
    (S4, S4),
    (S4.upper(), S4),
    ("{" + S4 + "}", S4),
    (S4.replace("-", ""), S4),
    ("urn:uuid:" + S4, S4),
])
def test_validate_uuid(given_id, expected):
    assert validate_uuid(given_id, "network_id") == expected


@pytest.mark.parametrize("bad", ["", "abc", S4 + "0", S4[:-1], None, 12, "g" * 32])
def test_validate_uuid_rejects(bad):
    expect(lambda: validate_uuid(bad, "network_id"), 400, "HTTPBadRequest",
           f"Invalid input for network_id. Reason: '{bad}' is not a valid UUID.")
