"""Neutron's subnet rules: validation, defaults, and the address primitives IPAM shares.

Invariant: a dict returned by :func:`normalize_subnet` or :func:`normalize_subnet_update`
describes exactly the subnet real Neutron would have stored for the same request:
canonical cidr (network address, compressed IPv6), ``gateway_ip`` either None or a
canonical address of the subnet's version that is not the IPv4 network/broadcast
address, allocation pools inside the cidr's usable range, pairwise disjoint, sorted, and
(when given explicitly) clear of the gateway. A request Neutron refuses raises the
:mod:`netledger.errors` error Neutron answers with (status, ``type``, message).

Pure functions over plain data: no I/O, no clocks, no randomness.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from netledger.errors import BadRequest, Conflict, InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_DNS_NAMESERVERS = 5  # neutron.conf [DEFAULT] max_dns_nameservers
MAX_SUBNET_HOST_ROUTES = 20  # neutron.conf [DEFAULT] max_subnet_host_routes
IPV6_MODES = ("dhcpv6-stateful", "dhcpv6-stateless", "slaac")
AUTO_ADDRESS_MODES = ("slaac", "dhcpv6-stateless")
PD_PREFIX = "::/64"  # Neutron's provisional prefix-delegation cidr; never "overlaps"

# PUT may not carry these (Neutron: allow_put False), in Neutron's attribute-map order.
READ_ONLY_ON_UPDATE = (
    "id", "ip_version", "network_id", "subnetpool_id", "prefixlen", "cidr",
    "tenant_id", "project_id", "ipv6_ra_mode", "ipv6_address_mode", "shared",
    "use_default_subnetpool",
)


# --- errors shaped like Neutron's ---------------------------------------------------

def attr_error(attr: str, reason: str) -> BadRequest:
    """The API layer's rejection of one attribute (a webob HTTPBadRequest in Neutron)."""
    return BadRequest(f"Invalid input for {attr}. Reason: {reason}.")


def invalid_input(message: str) -> InvalidInput:
    """neutron_lib InvalidInput; Neutron's message template adds the final period."""
    return InvalidInput(f"{message}.")


def bad_subnets_request(message: str) -> BadRequest:
    """neutron_lib BadRequest(resource='subnets'), whose type name is plain BadRequest."""
    return BadRequest(f"Bad subnets request: {message}.", type="BadRequest")


# --- scalar converters/validators (neutron-lib converters and validators) ----------

def to_int(value: Any) -> int:
    """neutron-lib convert_to_int: anything int() takes, so "4" works like 4."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid_input(f"'{value}' is not an integer") from None


_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")


def to_bool(value: Any) -> bool:
    """neutron-lib convert_to_boolean (oslo bool_from_string, strict)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise invalid_input(f"'{value}' cannot be converted to boolean")


def ip_address_problem(data: Any) -> str | None:
    """neutron-lib validate_ip_address: why ``data`` is not an acceptable IP, else None."""
    bad = f"'{data}' is not a valid IP address"
    # Zone ids ("fe80::1%eth0") and non-ASCII digits parse in ipaddress, not in netaddr.
    if not isinstance(data, str) or "%" in data or not data.isascii():
        return bad
    # neutron-lib refuses short IPv4 forms such as "10.1" that inet_aton would take.
    if ":" not in data and data.count(".") != 3:
        return bad
    try:
        ipaddress.ip_address(data)
        return None
    except ValueError:
        pass
    fixed = _without_leading_zeros(data)
    if fixed is not None:
        return f"'{data}' is not an accepted IP address, '{fixed}' is recommended"
    return bad


def _without_leading_zeros(data: str) -> str | None:
    """The IPv4 address ``data`` would be if its octets lost their leading zeros."""
    parts = data.split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) <= 255 for p in parts):
        return None
    return ".".join(str(int(p)) for p in parts)


def checked_ip(attr: str, data: Any) -> str:
    """A valid IP literal in canonical text form, or the API layer's 400."""
    problem = ip_address_problem(data)
    if problem:
        raise attr_error(attr, problem)
    return str(ipaddress.ip_address(data))


def ip_from_int(version: int, value: int) -> IPAddress:
    """An address from its integer; ipaddress.ip_address(int) would guess the version."""
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def uuid_problem(data: Any) -> str | None:
    """neutron-lib validate_uuid (oslo is_uuid_like): braces, urn: and case allowed."""
    try:
        canonical = str(uuid.UUID(data)).replace("-", "")
        given = data.replace("urn:", "").replace("uuid:", "").strip("{}")
        if canonical == given.replace("-", "").lower():
            return None
    except (TypeError, ValueError, AttributeError):
        pass
    return f"'{data}' is not a valid UUID"


def validate_uuid(s: Any, what: str) -> str:
    """``s`` as a canonical lowercase UUID, or 400 naming the attribute ``what``."""
    problem = uuid_problem(s)
    if problem:
        raise attr_error(what, problem)
    return str(uuid.UUID(s))


# --- address ranges -----------------------------------------------------------------

class IpRange(msgspec.Struct, frozen=True, kw_only=True):
    """An inclusive range of addresses of one IP version, held as integers."""

    version: int
    first: int
    last: int

    def __str__(self) -> str:
        # netaddr.IPRange's text form, which Neutron's pool error messages embed.
        return f"{ip_from_int(self.version, self.first)}-{ip_from_int(self.version, self.last)}"

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def __contains__(self, value: int) -> bool:
        return self.first <= value <= self.last

    def as_pool(self) -> dict[str, str]:
        return {"start": str(ip_from_int(self.version, self.first)),
                "end": str(ip_from_int(self.version, self.last))}


def pool_ranges(pools: Iterable[Any]) -> list[IpRange]:
    """Stored pools as ranges, sorted by start: {start, end} mappings, objects with
    ``start``/``end`` attributes (event structs) or IpRanges."""
    out = []
    for pool in pools:
        if not isinstance(pool, IpRange):
            pair = (pool["start"], pool["end"]) if isinstance(pool, Mapping) else (pool.start, pool.end)
            start, end = map(ipaddress.ip_address, pair)
            pool = IpRange(version=start.version, first=int(start), last=int(end))
        out.append(pool)
    return sorted(out, key=lambda r: r.first)


def _requested_range(pool: Mapping[str, str]) -> IpRange:
    """One client pool as a range; reversed or mixed-version ends are not a range at all."""
    start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
    if start.version != end.version or start > end:
        raise BadRequest(f"The allocation pool {pool} is not valid.", type="InvalidAllocationPool")
    return IpRange(version=start.version, first=int(start), last=int(end))


def usable_range(net: IPNetwork) -> IpRange:
    """Where pools may lie: IPv4 skips network+broadcast (not on /31, /32); IPv6 skips ::."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 6 or net.prefixlen <= 30:
        first += 1
    if net.version == 4 and net.prefixlen <= 30:
        last -= 1
    return IpRange(version=net.version, first=first, last=last)


def generate_pools(net: IPNetwork, gateway: str | None) -> list[IpRange]:
    """Neutron's default pools: the usable range with the gateway cut out of it."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if first == last:  # /32 or /128: the lone address is the pool, gateway or not
        return [IpRange(version=net.version, first=first, last=last)]
    whole = usable_range(net)
    gw = int(ipaddress.ip_address(gateway)) if gateway else None
    if gw is None or gw not in whole:
        return [whole]
    parts = [(whole.first, gw - 1), (gw + 1, whole.last)]
    return [IpRange(version=net.version, first=a, last=b) for a, b in parts if a <= b]


def validate_pools(pools: list[Mapping[str, str]], net: IPNetwork) -> list[IpRange]:
    """Neutron's pools_to_ip_range + validate_allocation_pools, in Neutron's order."""
    ranges = [_requested_range(p) for p in pools]
    bounds = usable_range(net)
    for r in ranges:
        if r.version != net.version:
            raise BadRequest(f"The allocation pool {r} is not valid.", type="InvalidAllocationPool")
        if r.first < bounds.first or r.last > bounds.last:
            raise BadRequest(f"The allocation pool {r} spans beyond the subnet cidr {net}.",
                             type="OutOfBoundsAllocationPool")
    for i, left in enumerate(ranges):
        for right in ranges[i + 1:]:
            if left.first <= right.last and right.first <= left.last:
                raise Conflict(f"Found overlapping allocation pools: {left} {right} "
                               f"for subnet {net}.", type="OverlappingAllocationPools")
    return ranges


def check_gateway_outside_pools(gateway: str, ranges: list[IpRange]) -> None:
    """A chosen gateway may not be handed out to ports: 409 as in Neutron."""
    gw = int(ipaddress.ip_address(gateway))
    for r in ranges:
        if gw in r:
            raise Conflict(f"Gateway ip {gateway} conflicts with allocation pool {r}.",
                           type="GatewayConflictWithAllocationPools")



# --- API layer: one converter/validator per attribute (neutron-lib attribute map) ---

def _dict_keys_problem(expected: tuple[str, ...], target: Any) -> str | None:
    """neutron-lib _verify_dict_keys (strict): exactly the expected keys."""
    if not isinstance(target, dict):
        return f"Invalid input. '{target}' must be a dictionary with keys: {list(expected)}"
    if set(target) != set(expected):
        # Sorted, unlike Python's set repr, so the message is stable.
        want = ", ".join(repr(k) for k in sorted(expected))
        got = ", ".join(repr(k) for k in sorted(map(str, target)))
        return (f"Validation of dictionary's keys failed. Expected keys: {{{want}}} "
                f"Provided keys: {{{got}}}")
    return None


def route_cidr_problem(data: Any) -> str | None:
    """neutron-lib validate_route_cidr: a network address with an explicit prefix."""
    bad = f"'{data}' is not a valid CIDR"
    if not isinstance(data, str) or "/" not in data or "%" in data or not data.isascii():
        return bad
    try:
        net = ipaddress.ip_network(data)  # strict: host bits make it no destination
    except ValueError:
        return bad
    return f"'{data}' is not a routable CIDR" if net.is_loopback else None


def _conv_ip_version(value: Any) -> int:
    version = to_int(value)
    if version not in (4, 6):
        raise attr_error("ip_version", f"{version} is not in valid_values")
    return version


def _conv_subnetpool_id(value: Any) -> Any:
    # "prefix_delegation" is Neutron's reserved pool id; anything else must be a UUID.
    if value is None or value == "prefix_delegation":
        return value
    problem = uuid_problem(value)
    if problem:
        raise attr_error("subnetpool_id", problem)
    return value


def _conv_prefixlen(value: Any) -> int | None:
    if value is None:
        return None
    length = to_int(value)
    if length < 0:
        raise attr_error("prefixlen", f"'{length}' should be non-negative")
    return length


def _conv_cidr(value: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface | None:
    """convert_cidr_to_canonical_format: a bare address means /32 or /128; host bits stay
    until create time, when Neutron rounds to the network (10.0.0.5/24 -> 10.0.0.0/24)."""
    if value is None:
        return None
    try:
        if not isinstance(value, str) or "%" in value:
            raise ValueError(value)
        return ipaddress.ip_interface(value)
    except ValueError:
        raise invalid_input(f"{value} is not in a CIDR format") from None


def _conv_gateway(value: Any) -> str | None:
    return None if value is None else checked_ip("gateway_ip", value)


def _conv_pools(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    try:
        pools = [dict(pool.items()) for pool in value]
    except (TypeError, AttributeError):
        raise invalid_input("Invalid data format for allocation pools") from None
    if not isinstance(value, list):
        raise attr_error("allocation_pools", f"Invalid data format for IP pool: '{value}'")
    for pool in pools:
        problem = (_dict_keys_problem(("start", "end"), pool)
                   or ip_address_problem(pool["start"]) or ip_address_problem(pool["end"]))
        if problem:
            raise attr_error("allocation_pools", problem)
    return [{k: str(ipaddress.ip_address(v)) for k, v in pool.items()} for pool in pools]


def _conv_nameservers(value: Any) -> list[str]:
    if value is None:
        return []
    if not hasattr(value, "__iter__"):
        raise attr_error("dns_nameservers", f"Invalid data format for nameserver: '{value}'")
    servers: list[str] = []
    for host in value:
        problem = ip_address_problem(host)
        if problem:
            raise attr_error("dns_nameservers", f"'{host}' is not a valid nameserver. {problem}")
        canonical = str(ipaddress.ip_address(host))
        if canonical in servers:  # compared canonically: 2001:DB8::1 == 2001:db8::1
            raise attr_error("dns_nameservers", f"Duplicate nameserver '{host}'")
        servers.append(canonical)
    return servers


def _conv_host_routes(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise attr_error("host_routes", f"Invalid data format for hostroute: '{value}'")
    routes: list[dict[str, str]] = []
    for route in value:
        problem = (_dict_keys_problem(("destination", "nexthop"), route)
                   or route_cidr_problem(route["destination"])
                   or ip_address_problem(route["nexthop"]))
        if problem:
            raise attr_error("host_routes", problem)
        canonical = {"destination": str(ipaddress.ip_network(route["destination"])),
                     "nexthop": str(ipaddress.ip_address(route["nexthop"]))}
        if canonical in routes:
            raise attr_error("host_routes", f"Duplicate hostroute '{route}'")
        routes.append(canonical)
    return routes


def _conv_ipv6_mode(attr: str):
    def convert(value: Any) -> str | None:
        # GET shows null for an unset mode, so a null is taken back as "unset" (Neutron
        # itself would 400 on an explicit null here).
        if value is None or value in IPV6_MODES:
            return value
        raise attr_error(attr, f"{value} is not in valid_values")
    return convert


# Neutron converts attributes in its attribute-map order, so the first bad one wins.
_CONVERTERS = (
    ("ip_version", _conv_ip_version),
    ("subnetpool_id", _conv_subnetpool_id),
    ("prefixlen", _conv_prefixlen),
    ("cidr", _conv_cidr),
    ("gateway_ip", _conv_gateway),
    ("allocation_pools", _conv_pools),
    ("dns_nameservers", _conv_nameservers),
    ("host_routes", _conv_host_routes),
    ("enable_dhcp", to_bool),
    ("ipv6_ra_mode", _conv_ipv6_mode("ipv6_ra_mode")),
    ("ipv6_address_mode", _conv_ipv6_mode("ipv6_address_mode")),
    ("use_default_subnetpool", to_bool),
)
_UPDATABLE = ("gateway_ip", "allocation_pools", "dns_nameservers", "host_routes", "enable_dhcp")


def _convert(body: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    wanted = set(names)
    return {name: conv(body[name]) for name, conv in _CONVERTERS
            if name in wanted and name in body}


# --- plugin layer: whole-subnet rules (db_base_plugin_v2._validate_subnet & co) ----

def _check_version(version: int, addr: str, name: str) -> None:
    if ipaddress.ip_network(addr, strict=False).version != version:
        raise invalid_input(f"{name} '{addr}' does not match the ip_version '{version}'")


def _check_dhcp_capable(net: IPNetwork) -> None:
    """Neutron refuses DHCP on subnets dnsmasq cannot serve."""
    if net.prefixlen > (30 if net.version == 4 else 126):
        raise invalid_input("Subnet has a prefix length that is incompatible with DHCP "
                            "service enabled")
    if net.is_multicast:
        raise invalid_input("Multicast IP subnet is not supported if enable_dhcp is True")
    if net.is_loopback:
        raise invalid_input("Loopback IP subnet is not supported if enable_dhcp is True")
    if net.version == 4 and int(net.network_address) == 0:
        # Neutron's own text ends in a period, so its reply really has two.
        raise invalid_input("First IP '0.0.0.0' of network is not supported if "
                            "enable_dhcp is True.")


def _check_gateway(version: int, net: IPNetwork, gateway: str) -> None:
    """check_gateway_invalid_in_subnet: only IPv4 network/last address are refused.
    A gateway outside the cidr is legal (on-link routers, IPv6 link-local gateways)."""
    _check_version(version, gateway, "gateway_ip")
    ip = ipaddress.ip_address(gateway)
    if net.version == 4 and ip in (net.network_address, net.broadcast_address):
        raise invalid_input("Gateway is not valid on subnet")


def _check_nameservers(version: int, servers: list[str], subnet_id: str) -> None:
    if len(servers) > MAX_DNS_NAMESERVERS:
        raise BadRequest(f"Unable to complete operation for {subnet_id}. The number of DNS "
                         f"nameservers exceeds the limit {MAX_DNS_NAMESERVERS}.",
                         type="DNSNameServersExhausted")
    for dns in servers:
        _check_version(version, dns, "dns_nameserver")


def _check_host_routes(version: int, routes: list[dict[str, str]], subnet_id: str) -> None:
    if len(routes) > MAX_SUBNET_HOST_ROUTES:
        raise BadRequest(f"Unable to complete operation for {subnet_id}. The number of host "
                         f"routes exceeds the limit {MAX_SUBNET_HOST_ROUTES}.",
                         type="HostRoutesExhausted")
    for route in routes:
        _check_version(version, route["nexthop"], "nexthop")
        _check_version(version, route["destination"], "destination")


def _check_ipv6_modes(spec: Mapping[str, Any], net: IPNetwork) -> None:
    """Create-time IPv6 mode rules: DHCP on, equal modes if both set, /64 for EUI-64."""
    ra, addr = spec.get("ipv6_ra_mode"), spec.get("ipv6_address_mode")
    if spec["ip_version"] == 4:
        for attr, mode in (("ipv6_ra_mode", ra), ("ipv6_address_mode", addr)):
            if mode:
                raise invalid_input(f"{attr} is not valid when ip_version is 4")
        return
    if (ra or addr) and not spec["enable_dhcp"]:
        raise invalid_input("ipv6_ra_mode or ipv6_address_mode cannot be set when "
                            "enable_dhcp is set to False")
    if ra and addr and ra != addr:
        raise invalid_input(f"ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to "
                            f"'{addr}' is not valid. If both attributes are set, they must "
                            "be the same value")
    if (ra in AUTO_ADDRESS_MODES or addr in AUTO_ADDRESS_MODES) and net.prefixlen != 64:
        raise invalid_input(f"Invalid CIDR {net} for IPv6 address mode. OpenStack uses the "
                            "EUI-64 address format, which requires the prefix to be /64")


def _validate_spec(spec: Mapping[str, Any], net: IPNetwork,
                   current: Mapping[str, Any] | None) -> None:
    """db_base_plugin_v2._validate_subnet, for a create (current None) or an update."""
    version = spec["ip_version"]
    _check_version(version, str(net), "cidr")
    if version == 6 and int(net.network_address) == 0:
        raise invalid_input("IPv6 subnet '::' is not supported")
    # Only a switch to DHCP is checked, so old subnets stay editable.
    if spec.get("enable_dhcp") and not (current and current.get("enable_dhcp")):
        _check_dhcp_capable(net)
    if spec.get("gateway_ip"):
        _check_gateway(version, net, spec["gateway_ip"])
    subnet_id = current["id"] if current and current.get("id") else "new subnet"
    if "dns_nameservers" in spec:
        _check_nameservers(version, spec["dns_nameservers"], subnet_id)
    if "host_routes" in spec:
        _check_host_routes(version, spec["host_routes"], subnet_id)
    if current is None:
        _check_ipv6_modes(spec, net)
    elif spec.get("enable_dhcp") is False and (
            current.get("ipv6_ra_mode") or current.get("ipv6_address_mode")):
        raise invalid_input("Cannot disable enable_dhcp with ipv6 attributes set")


def _refuse_subnet_pools(spec: Mapping[str, Any], cidr: Any) -> None:
    """This deployment has no subnet pools, so only a literal cidr can make a subnet."""
    pool_id, use_default = spec.get("subnetpool_id"), spec.get("use_default_subnetpool")
    if pool_id and use_default:
        raise bad_subnets_request("subnetpool_id and use_default_subnetpool cannot both "
                                  "be specified")
    if pool_id:
        # Neutron would answer 404 SubnetPoolNotFound; with no pools a 400 is clearer.
        raise bad_subnets_request(f"subnet pools are not supported, subnetpool_id must be "
                                  f"null (got '{pool_id}')")
    if use_default:
        version = cidr.version if cidr is not None else spec["ip_version"]
        raise bad_subnets_request(f"No default subnetpool found for IPv{version}")


def _requested_network(spec: Mapping[str, Any]) -> IPNetwork:
    cidr, prefixlen = spec.get("cidr"), spec.get("prefixlen")
    if cidr is not None and prefixlen is not None:
        raise bad_subnets_request("cidr and prefixlen must not be supplied together")
    _refuse_subnet_pools(spec, cidr)
    if cidr is None:
        raise bad_subnets_request("a subnetpool must be specified in the absence of a cidr")
    return cidr.network


def default_gateway(net: IPNetwork) -> str | None:
    """Neutron's gateway when none is given: IPv4 network+1 (even past a /32), IPv6 the
    network address itself (the Subnet-Router anycast address, Neutron >= Ussuri)."""
    if net.version == 6:
        return str(net.network_address)
    try:
        return str(net.network_address + 1)
    except ipaddress.AddressValueError:  # 255.255.255.255/32 has no "next" address
        return None


def _check_against_network(net: IPNetwork, network_subnets: Iterable[Mapping[str, Any]],
                           network_id: Any) -> None:
    """ipam_backend_mixin._validate_subnet_cidr: no /0, no overlap on the network."""
    if net.prefixlen == 0:
        raise invalid_input("0 is not allowed as CIDR prefix length")
    for other in network_subnets:
        other_net = ipaddress.ip_network(other["cidr"], strict=False)
        if (other_net.version == net.version and other_net.overlaps(net)
                and str(other_net) != PD_PREFIX):
            # Neutron deliberately does not say which subnet it overlaps.
            raise invalid_input(f"Requested subnet with cidr: {net} for network: "
                                f"{network_id} overlaps with another subnet")


def _subnet_dict(net: IPNetwork, gateway: str | None, ranges: list[IpRange],
                 fields: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "cidr": str(net),
        "ip_version": net.version,
        "gateway_ip": gateway,
        "allocation_pools": [r.as_pool() for r in sorted(ranges, key=lambda r: r.first)],
        "dns_nameservers": list(fields.get("dns_nameservers") or []),
        "host_routes": [dict(r) for r in fields.get("host_routes") or []],
        "enable_dhcp": bool(fields.get("enable_dhcp", True)),
        "ipv6_ra_mode": fields.get("ipv6_ra_mode"),
        "ipv6_address_mode": fields.get("ipv6_address_mode"),
    }


def normalize_subnet(req: dict, *, network_subnets: list[dict]) -> dict:
    """Validate a subnet create body as Neutron does and fill Neutron's defaults.

    ``network_subnets`` are the network's existing subnets (``id`` and ``cidr`` at
    least). Returns cidr, ip_version, gateway_ip, allocation_pools, dns_nameservers,
    host_routes, enable_dhcp, ipv6_ra_mode and ipv6_address_mode, all canonical.
    """
    if not isinstance(req, Mapping):
        raise BadRequest("Object 'subnet' contains invalid data")
    if "ip_version" not in req:
        raise BadRequest("Failed to parse request. Required attribute 'ip_version' not specified")
    if "shared" in req:
        raise BadRequest("Attribute 'shared' not allowed in POST")
    spec = {"enable_dhcp": True, **_convert(req, [name for name, _ in _CONVERTERS])}
    net = _requested_network(spec)
    _validate_spec(spec, net, None)
    gateway = spec["gateway_ip"] if "gateway_ip" in spec else default_gateway(net)
    if "allocation_pools" in spec:
        ranges = validate_pools(spec["allocation_pools"], net)
        if gateway:
            check_gateway_outside_pools(gateway, ranges)
    else:
        ranges = generate_pools(net, gateway)
    _check_against_network(net, network_subnets, req.get("network_id"))
    return _subnet_dict(net, gateway, ranges, spec)


def _canonical_or_none(ip: Any) -> str | None:
    return str(ipaddress.ip_address(ip)) if ip else None


def _updated_pools(current: Mapping[str, Any], spec: Mapping[str, Any],
                   net: IPNetwork) -> list[IpRange]:
    """New pools are validated against the cidr; a changed gateway against the pools."""
    old_gateway = _canonical_or_none(current.get("gateway_ip"))
    gateway = spec.get("gateway_ip", old_gateway)
    if "allocation_pools" in spec:
        ranges = validate_pools(spec["allocation_pools"], net)
    else:
        ranges = pool_ranges(current.get("allocation_pools") or [])
    if gateway and (gateway != old_gateway or "allocation_pools" in spec):
        check_gateway_outside_pools(gateway, ranges)
    return ranges


def normalize_subnet_update(current: dict, changes: dict, *,
                            gateway_port_id: str | None = None) -> dict:
    """Validate a subnet update against the stored subnet; return the merged subnet.

    ``gateway_port_id`` names the router port holding the current gateway address, if
    any: Neutron then refuses to move or drop the gateway (409 GatewayIpInUse).
    Keys of ``changes`` this module does not own (name, description...) are merged as is.
    """
    if not isinstance(changes, Mapping):
        raise BadRequest("Object 'subnet' contains invalid data")
    for attr in READ_ONLY_ON_UPDATE:
        if attr in changes:
            raise BadRequest(f"Cannot update read-only attribute {attr}")
    net = ipaddress.ip_network(current["cidr"], strict=False)
    spec = {"ip_version": current["ip_version"], **_convert(changes, _UPDATABLE)}
    _validate_spec(spec, net, current)
    old_gateway = _canonical_or_none(current.get("gateway_ip"))
    if gateway_port_id and "gateway_ip" in spec and spec["gateway_ip"] != old_gateway:
        raise Conflict(f"Current gateway ip {old_gateway} already in use by port "
                       f"{gateway_port_id}. Unable to update.", type="GatewayIpInUse")
    ranges = _updated_pools(current, spec, net)
    fields = {**current, **spec}
    merged = {**current, **{k: v for k, v in changes.items() if k not in _UPDATABLE}}
    merged.update(_subnet_dict(net, spec.get("gateway_ip", old_gateway), ranges, fields))
    return merged
