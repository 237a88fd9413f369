"""IPAM for netledger: pools, address picking, fixed-IP requests, MACs, EUI-64.

Invariant: every address this module accepts or hands out for a subnet is one Neutron
would accept for it: inside the cidr, never the IPv4 network address nor (up to /30) the
broadcast address, the IPv6 network address only for router ports; and an address
*picked* by :func:`pick_free_ips` also lies inside an allocation pool and outside the
caller's ``used`` and ``exclude`` sets. Errors are the ones Neutron answers with.

Pure functions over plain data: no I/O, and the only randomness is a ``random.Random``
the caller passes in, so tests (and replays) can make it deterministic.
"""

from __future__ import annotations

import ipaddress
import random
import re
import uuid
from bisect import bisect_right
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import msgspec

from netledger.errors import BadRequest, Conflict, NeutronError, not_found

from .subnet_rules import (  # noqa: F401  (re-exported: this module is the entry point)
    AUTO_ADDRESS_MODES,
    IpRange,
    attr_error,
    checked_ip,
    default_gateway,
    generate_pools,
    invalid_input,
    ip_address_problem,
    ip_from_int,
    normalize_subnet,
    normalize_subnet_update,
    pool_ranges,
    uuid_problem,
    validate_uuid,
)

__all__ = [
    "DEFAULT_BASE_MAC", "DefaultFixedIps", "IpRange",
    "normalize_subnet", "normalize_subnet_update", "default_gateway", "generate_pools",
    "pool_size", "in_pools", "pick_free_ips", "pick_from_any_subnet",
    "subnet_accepts", "check_fixed_ip", "resolve_fixed_ips", "plan_default_fixed_ips",
    "eui64", "generate_mac", "normalize_mac", "ensure_mac_available", "validate_uuid",
]

DEFAULT_BASE_MAC = "fa:16:3e:00:00:00"  # neutron.conf base_mac

# neutron_lib.constants device owners that change which addresses a port may hold.
ROUTER_INTERFACE_OWNERS = (
    "network:router_interface",
    "network:ha_router_replicated_interface",
    "network:router_interface_distributed",
)
ROUTER_INTERFACE_OWNERS_SNAT = ROUTER_INTERFACE_OWNERS + ("network:router_centralized_snat",)
ROUTER_PORT_OWNERS = ROUTER_INTERFACE_OWNERS_SNAT + ("network:router_gateway",)

# Pools up to this size are enumerated; larger ones are sampled without enumeration.
_ENUMERATE_LIMIT = 1 << 16


class DefaultFixedIps(msgspec.Struct, frozen=True, kw_only=True):
    """What Neutron gives a port created without ``fixed_ips``.

    ``any_of``: groups of subnet ids; the port gets ONE address from the first subnet of
    each group that has room (IPv4 subnets, then stateful IPv6 subnets).
    ``eui64``: (subnet_id, address) pairs the port gets on SLAAC/dhcpv6-stateless
    subnets (address None when no MAC was given).
    """

    any_of: tuple[tuple[str, ...], ...] = ()
    eui64: tuple[tuple[str, str | None], ...] = ()


# --- pools --------------------------------------------------------------------------

def pool_size(pools: Iterable[Mapping[str, str] | IpRange]) -> int:
    """How many addresses the pools hold (pools are disjoint once validated)."""
    return sum(r.size for r in pool_ranges(pools))


def in_pools(ip: str, pools: Iterable[Mapping[str, str] | IpRange]) -> bool:
    """Whether ``ip`` lies in one of the pools; an unparsable ``ip`` lies in none."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    value = int(addr)
    return any(r.version == addr.version and value in r for r in pool_ranges(pools))


def ip_generation_failure(network_id: Any) -> Conflict:
    """What Neutron answers when a network's subnets have no address left."""
    return Conflict(f"No more IP addresses available on network {network_id}.",
                    type="IpAddressGenerationFailure")


# --- picking free addresses -----------------------------------------------------------

class _Layout:
    """The pools laid end to end, so an index in [0, total) names one pool address."""

    def __init__(self, ranges: list[IpRange]) -> None:
        self.ranges = ranges
        self.firsts = [r.first for r in ranges]
        self.starts: list[int] = []  # index of each range's first address
        self.total = 0
        for r in ranges:
            self.starts.append(self.total)
            self.total += r.size

    def address(self, index: int) -> int:
        k = bisect_right(self.starts, index) - 1
        return self.ranges[k].first + (index - self.starts[k])

    def contains(self, value: int) -> bool:
        k = bisect_right(self.firsts, value) - 1
        return k >= 0 and value in self.ranges[k]


def _blocked(layout: _Layout, version: int, *taken: Iterable[str]) -> set[int]:
    """The taken addresses that actually sit in the pools (others cannot matter)."""
    blocked = set()
    for group in taken:
        for text in group:
            try:
                addr = ipaddress.ip_address(text)
            except ValueError:
                continue  # not an address, so it cannot occupy one
            if addr.version == version and layout.contains(int(addr)):
                blocked.add(int(addr))
    return blocked


def _pick_enumerated(layout: _Layout, blocked: set[int], count: int,
                     rng: random.Random) -> list[int]:
    free = [v for r in layout.ranges for v in range(r.first, r.last + 1) if v not in blocked]
    return rng.sample(free, count)


def _pick_sampled(layout: _Layout, blocked: set[int], count: int,
                  rng: random.Random) -> list[int]:
    """Uniform rejection sampling; if the pools are so full that it stalls, walk from a
    random point instead, which meets at most len(blocked) taken addresses."""
    chosen: dict[int, None] = {}  # ordered set
    for _ in range(32 * count + 64):
        if len(chosen) == count:
            return list(chosen)
        value = layout.address(rng.randrange(layout.total))
        if value not in blocked:
            chosen[value] = None
    start = rng.randrange(layout.total)
    for offset in range(layout.total):
        if len(chosen) == count:
            break
        value = layout.address((start + offset) % layout.total)
        if value not in blocked:
            chosen[value] = None
    return list(chosen)


def pick_free_ips(subnet: dict, used: set[str] | frozenset[str], count: int,
                  rng: random.Random, exclude: Collection[str] = frozenset()) -> list[str]:
    """``count`` distinct random addresses from the subnet's pools, none in used/exclude.

    Random rather than lowest-first so that concurrent allocators rarely pick the same
    address. Cost is bounded by the number of taken addresses, never by the pool size,
    so a /64 is as cheap as a /29. Raises IpAddressGenerationFailure (409) when fewer
    than ``count`` are free.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    ranges = pool_ranges(subnet.get("allocation_pools") or [])
    version = _ip_version(subnet)
    layout = _Layout([r for r in ranges if r.version == version])
    blocked = _blocked(layout, version, used, exclude)
    if layout.total - len(blocked) < count:
        raise ip_generation_failure(subnet.get("network_id"))
    if count == 0:
        return []
    pick = _pick_enumerated if layout.total <= _ENUMERATE_LIMIT else _pick_sampled
    return [str(ip_from_int(version, v)) for v in pick(layout, blocked, count, rng)]


def pick_from_any_subnet(subnets: list[dict], used_by_subnet: Mapping[str, Collection[str]],
                         rng: random.Random, *, network_id: str,
                         exclude: Collection[str] = frozenset()) -> tuple[str, str]:
    """One address from the first subnet with room, as Neutron's IpamSubnetGroup does;
    returns (subnet_id, address) or raises IpAddressGenerationFailure for the network."""
    for subnet in subnets:
        try:
            ip = pick_free_ips(subnet, used_by_subnet.get(subnet["id"], ()), 1, rng, exclude)
        except NeutronError as exc:
            if exc.type != "IpAddressGenerationFailure":
                raise
            continue
        return subnet["id"], ip[0]
    raise ip_generation_failure(network_id)


# --- fixed IPs ---------------------------------------------------------------------------

def subnet_accepts(cidr: str, ip: str, device_owner: str = "") -> bool:
    """neutron.ipam.utils.check_subnet_ip: may a port with this owner hold ``ip``?"""
    net = ipaddress.ip_network(cidr, strict=False)
    addr = ipaddress.ip_address(ip)
    if addr.version != net.version or addr not in net:
        return False
    if net.version == 4:
        # netaddr has no broadcast for /31 and /32, so there only the network address
        # is refused (which makes a /32's lone address unrequestable, as in Neutron).
        broadcast = net.broadcast_address if net.prefixlen <= 30 else None
        return addr not in (net.network_address, broadcast)
    # IPv6 network address = Subnet-Router anycast: only routers (or "unknown") hold it.
    return device_owner in ROUTER_PORT_OWNERS + ("",) or addr != net.network_address


def _invalid_ip_for_subnet(ip: Any) -> BadRequest:
    return BadRequest(f"IP address {ip} is not a valid IP for the specified subnet.",
                      type="InvalidIpForSubnet")


def _canonical(ip: str) -> str:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return ip


def check_fixed_ip(subnet: dict, ip: str, *, network_id: str, device_owner: str = "",
                   used: Collection[str] = frozenset()) -> str:
    """Validate a requested address on a subnet; return its canonical text.

    As in Neutron, an explicit request may name any valid address of the cidr, even one
    outside the pools or the gateway address itself. ``used`` are the subnet's allocated
    addresses (taken -> 409 IpAddressAlreadyAllocated). ``network_id`` is accepted for
    symmetry with the other port helpers; Neutron's errors here name the subnet.
    """
    del network_id
    text = checked_ip("fixed_ips", ip)
    if not subnet_accepts(subnet["cidr"], text, device_owner):
        raise _invalid_ip_for_subnet(ip)
    if text in {_canonical(u) for u in used}:
        raise Conflict(f"IP address {text} already allocated in subnet {subnet.get('id')}",
                       type="IpAddressAlreadyAllocated")
    return text


def _check_fixed_ips_shape(requested: Any) -> None:
    """neutron-lib validate_fixed_ips: a list of dicts, valid and distinct addresses."""
    if not isinstance(requested, list):
        raise attr_error("fixed_ips", f"Invalid data format for fixed IP: '{requested}'")
    seen: set[str] = set()
    for fixed in requested:
        if not isinstance(fixed, dict):
            raise attr_error("fixed_ips", f"Invalid data format for fixed IP: '{fixed}'")
        if "ip_address" in fixed:
            problem = ip_address_problem(fixed["ip_address"])
            if problem:
                raise attr_error("fixed_ips", problem)
            text = _canonical(fixed["ip_address"])
            if text in seen:  # a subnet_id may repeat (two addresses); an address may not
                raise attr_error("fixed_ips", f"Duplicate IP address '{fixed['ip_address']}'")
            seen.add(text)
        if "subnet_id" in fixed:
            problem = uuid_problem(fixed["subnet_id"])
            if problem:
                raise attr_error("fixed_ips", problem)


def _is_auto_address(subnet: Mapping[str, Any]) -> bool:
    """SLAAC / dhcpv6-stateless: addresses come from the MAC, not from IPAM."""
    return (subnet.get("ipv6_address_mode") in AUTO_ADDRESS_MODES
            or subnet.get("ipv6_ra_mode") in AUTO_ADDRESS_MODES)


def _subnet_by_id(fixed: Mapping[str, Any], subnets: list[dict], network_id: str,
                  known_subnet_ids: Collection[str] | None) -> dict:
    wanted = validate_uuid(fixed["subnet_id"], "fixed_ips")
    for subnet in subnets:
        if _canonical_uuid(subnet["id"]) == wanted:
            return subnet
    known = known_subnet_ids
    if known is not None and wanted not in {_canonical_uuid(s) for s in known}:
        raise not_found("subnet", fixed["subnet_id"])
    raise invalid_input(f"Failed to create port on network {network_id}, because fixed_ips "
                        f"included invalid subnet {fixed['subnet_id']}")


def _canonical_uuid(value: str) -> str:
    """Ids compare case-insensitively, as in Neutron's (MySQL) database."""
    return value.lower() if uuid_problem(value) else str(uuid.UUID(value))


def _subnet_for_fixed_ip(fixed: Mapping[str, Any], subnets: list[dict], network_id: str,
                         device_owner: str, known: Collection[str] | None) -> dict:
    """ipam_backend_mixin._get_subnet_for_fixed_ip: which subnet an entry is about."""
    if not subnets:
        raise invalid_input("IP allocation requires subnets for network")
    ip = fixed.get("ip_address")
    if "subnet_id" in fixed:
        subnet = _subnet_by_id(fixed, subnets, network_id, known)
        if ip is not None and not subnet_accepts(subnet["cidr"], ip, device_owner):
            raise _invalid_ip_for_subnet(ip)
        return subnet
    if ip is None:
        raise invalid_input("IP allocation requires subnet_id or ip_address")
    for subnet in subnets:
        if subnet_accepts(subnet["cidr"], ip, device_owner):
            return subnet
    raise BadRequest(f"IP address {ip} is not a valid IP for any of the subnets on the "
                     "specified network.", type="InvalidIpForNetwork")


def _entry_for(fixed: Mapping[str, Any], subnet: dict, device_owner: str,
               mac_address: str | None) -> tuple[str, str | None] | None:
    """ipam_pluggable_backend._test_fixed_ips_for_port for one entry."""
    auto = _is_auto_address(subnet)
    if "ip_address" in fixed:
        ip = _canonical(fixed["ip_address"])
        # On auto-address subnets only the port's own EUI-64 address may be asked for
        # (checkable only when the caller tells us the MAC).
        if auto and mac_address is not None and device_owner not in ROUTER_INTERFACE_OWNERS:
            if ip != eui64(subnet["cidr"], mac_address):
                raise BadRequest(
                    f"IPv6 address {fixed['ip_address']} cannot be directly assigned to a "
                    f"port on subnet {subnet['id']} as the subnet is configured for "
                    "automatic addresses", type="AllocationOnAutoAddressSubnet")
        return subnet["id"], ip
    if device_owner in ROUTER_INTERFACE_OWNERS_SNAT or not auto:
        return subnet["id"], None
    return None  # the auto-address pass gives this port its EUI-64 address there


def _auto_address_entries(subnets: list[dict], device_owner: str, mac_address: str | None,
                          handled: Collection[str]) -> list[tuple[str, str | None]]:
    """Every non-router port gets its EUI-64 address on every auto-address subnet
    (address None when the MAC is not given: the caller derives it with eui64())."""
    if device_owner in ROUTER_INTERFACE_OWNERS_SNAT:
        return []
    return [(s["id"], eui64(s["cidr"], mac_address) if mac_address else None)
            for s in subnets if _is_auto_address(s) and s["id"] not in handled]


def resolve_fixed_ips(requested: list[dict], subnets_of_network: list[dict], *,
                      network_id: str, device_owner: str = "",
                      mac_address: str | None = None,
                      known_subnet_ids: Collection[str] | None = None,
                      ) -> list[tuple[str, str | None]]:
    """Interpret a port's ``fixed_ips`` request as Neutron does.

    Returns (subnet_id, address) pairs, address None meaning "allocate one there"
    (see :func:`pick_free_ips`). Pairs for the port's EUI-64 addresses on SLAAC and
    dhcpv6-stateless subnets are appended, as Neutron gives them to every non-router
    port. Pass ``mac_address`` to get those addresses filled in and Neutron's
    AllocationOnAutoAddressSubnet check; without it they come back as None (derive them
    with :func:`eui64`) and explicit addresses there are not checked against the MAC.
    ``known_subnet_ids``, if given, lets a subnet that exists nowhere answer 404
    SubnetNotFound instead of 400.
    For an absent ``fixed_ips`` use :func:`plan_default_fixed_ips`.
    """
    if requested is None:
        raise ValueError("fixed_ips not given: use plan_default_fixed_ips")
    _check_fixed_ips_shape(requested)
    pairs: list[tuple[str, str | None]] = []
    for fixed in requested:
        subnet = _subnet_for_fixed_ip(fixed, subnets_of_network, network_id,
                                      device_owner, known_subnet_ids)
        entry = _entry_for(fixed, subnet, device_owner, mac_address)
        if entry is not None:
            pairs.append(entry)
    handled = {subnet_id for subnet_id, _ in pairs}
    pairs.extend(_auto_address_entries(subnets_of_network, device_owner, mac_address, handled))
    return pairs


def _ip_version(subnet: Mapping[str, Any]) -> int:
    version = subnet.get("ip_version")
    return int(version or ipaddress.ip_network(subnet["cidr"], strict=False).version)


def plan_default_fixed_ips(subnets_of_network: list[dict], *, device_owner: str = "",
                           mac_address: str | None = None) -> DefaultFixedIps:
    """Neutron's addresses for a port created without ``fixed_ips``: one IPv4 address
    (first IPv4 subnet with room), one from the stateful IPv6 subnets likewise, and the
    EUI-64 address on each SLAAC/dhcpv6-stateless subnet (router ports: none there)."""
    v4 = tuple(s["id"] for s in subnets_of_network if _ip_version(s) == 4)
    v6 = tuple(s["id"] for s in subnets_of_network
               if _ip_version(s) == 6 and not _is_auto_address(s))
    return DefaultFixedIps(
        any_of=tuple(group for group in (v4, v6) if group),
        eui64=tuple(_auto_address_entries(subnets_of_network, device_owner, mac_address, ())),
    )


# --- EUI-64 and MAC addresses ----------------------------------------------------------------

# The spellings netaddr's EUI-48 parser accepts (neutron-lib validates MACs with it).
_MAC_FORMS = tuple(re.compile(p) for p in (
    r"([0-9a-f]{1,2})" + r":([0-9a-f]{1,2})" * 5,  # unix
    r"([0-9a-f]{1,2})" + r"-([0-9a-f]{1,2})" * 5,  # windows / EUI-48
    r"([0-9a-f]{1,4})" + r"\.([0-9a-f]{1,4})" * 2,  # cisco
    r"([0-9a-f]{1,4})" + r":([0-9a-f]{1,4})" * 2,
    r"([0-9a-f]{1,4})" + r"-([0-9a-f]{1,4})" * 2,
    r"([0-9a-f]{5,6})[:-]([0-9a-f]{5,6})",  # PostgreSQL
    r"([0-9a-f]{12})",  # bare
))


def _mac_value(text: Any) -> int | None:
    """A MAC as a 48-bit integer, or None when it is not one."""
    if not isinstance(text, str):
        return None
    for form in _MAC_FORMS:
        match = form.fullmatch(text.lower())
        if match:
            width = 48 // len(match.groups())
            value = 0
            for group in match.groups():
                value = (value << width) | int(group, 16)
            return value
    return None


def _mac_text(value: int) -> str:
    return ":".join(f"{(value >> shift) & 0xFF:02x}" for shift in range(40, -8, -8))


def normalize_mac(s: Any, *, reject_multicast: bool = False) -> str:
    """A MAC in lowercase colon form; invalid, all-zero or broadcast -> 400, as
    neutron-lib validate_mac_address. Neutron accepts multicast MACs on ports; pass
    ``reject_multicast`` where it refuses them (allowed-address-pairs)."""
    value = _mac_value(s)
    if value is None or value in (0, (1 << 48) - 1):
        raise attr_error("mac_address", f"'{s}' is not a valid MAC address")
    if reject_multicast and value & (1 << 40):  # I/G bit of the first octet
        raise attr_error("mac_address",
                         f"MAC address {s} is a multicast address, which is not supported")
    return _mac_text(value)


def generate_mac(base: str, rng: random.Random) -> str:
    """neutron-lib get_random_mac: keep base's first 3 octets (and the 4th if it is not
    00), randomize the rest."""
    parts = base.split(":")
    if len(parts) != 6:
        raise ValueError(f"base MAC {base!r} must have 6 colon-separated octets")
    octets = [int(p, 16) for p in parts[:3]] + [rng.getrandbits(8) for _ in range(3)]
    if parts[3] != "00":
        octets[3] = int(parts[3], 16)
    return ":".join(f"{o:02x}" for o in octets)


def ensure_mac_available(mac: str, in_use: Collection[str], *, network_id: str) -> str:
    """Normalize ``mac``; 409 MacAddressInUse if a port of the network already has it."""
    text = normalize_mac(mac)
    if text in {_mac_text(v) for v in map(_mac_value, in_use) if v is not None}:
        raise Conflict(f"Unable to complete operation for network {network_id}. "
                       f"The mac address {text} is in use.", type="MacAddressInUse")
    return text


def eui64(prefix_cidr: str, mac: str) -> str:
    """The SLAAC address of ``mac`` in an IPv6 prefix (RFC 4291 appendix A), e.g.
    2001:db8::/64 + fa:16:3e:00:00:01 -> 2001:db8::f816:3eff:fe00:1."""
    net = ipaddress.ip_network(prefix_cidr, strict=False)
    if net.version != 6:
        raise ValueError(f"Unable to generate IP address by EUI64 for IPv4 prefix {prefix_cidr}")
    value = _mac_value(mac)
    if value is None:
        raise attr_error("mac_address", f"'{mac}' is not a valid MAC address")
    interface_id = ((value >> 24) << 40) | (0xFFFE << 24) | (value & 0xFFFFFF)
    # oslo's formula: prefix + interface id with the universal/local bit flipped.
    return str(ipaddress.IPv6Address((int(net.network_address) + interface_id) ^ (1 << 57)))
