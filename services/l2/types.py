"""Type drivers: what each network type needs, and which segments are valid.

Pure functions over a :class:`TypeConfig` (Neutron's ``[ml2_type_*]`` options), for the
API's deciders (provider network validation, tenant segment allocation) and for
workers (is this segment something I can wire?). Nothing here allocates: allocation
candidates are yielded in a deterministic order and the caller claims one (a claim
subject per segment, see ``Subjects.claim_segment``), so retries are idempotent.
"""

from __future__ import annotations

from collections.abc import Iterator

import msgspec

from netledger.errors import InvalidInput

# Encapsulation overhead on an IPv4 underlay (Neutron's constants: header + outer IP).
_IP4 = 20
_OVERHEAD = {"vxlan": 30 + _IP4, "gre": 22 + _IP4, "geneve": 30 + _IP4}


class TypeDriver(msgspec.Struct, frozen=True, kw_only=True):
    """One network type: whether it needs a physical network and its segment space."""

    name: str
    physnet: str            # "required", "forbidden" or "optional"
    seg_min: int = 0        # 0/0: this type has no segmentation id
    seg_max: int = 0
    tunnel: bool = False

    @property
    def segmented(self) -> bool:
        return self.seg_max > 0


TYPE_DRIVERS: dict[str, TypeDriver] = {
    "local": TypeDriver(name="local", physnet="forbidden"),
    "flat": TypeDriver(name="flat", physnet="required"),
    "vlan": TypeDriver(name="vlan", physnet="required", seg_min=1, seg_max=4094),
    "vxlan": TypeDriver(name="vxlan", physnet="forbidden", seg_min=1, seg_max=2**24 - 1, tunnel=True),
    "gre": TypeDriver(name="gre", physnet="forbidden", seg_min=1, seg_max=2**32 - 1, tunnel=True),
    "geneve": TypeDriver(name="geneve", physnet="forbidden", seg_min=1, seg_max=2**24 - 1, tunnel=True),
}

TUNNEL_TYPES = tuple(n for n, d in TYPE_DRIVERS.items() if d.tunnel)


class TypeConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Deployment options: which types exist, flat physnets, tenant segment ranges.

    ``flat_networks`` may contain ``"*"`` (any physnet). ``vlan_ranges`` maps a physnet
    to its tenant VLAN ranges (a physnet listed with no range is provider-only);
    ``tunnel_ranges`` maps a tunnel type to its tenant ranges.
    """

    type_drivers: tuple[str, ...] = ("local", "flat", "vlan", "vxlan", "gre", "geneve")
    tenant_network_types: tuple[str, ...] = ("vxlan",)
    flat_networks: tuple[str, ...] = ("*",)
    vlan_ranges: dict[str, tuple[tuple[int, int], ...]] = {}
    tunnel_ranges: dict[str, tuple[tuple[int, int], ...]] = {}


def driver(network_type: str, config: TypeConfig) -> TypeDriver:
    if network_type not in TYPE_DRIVERS or network_type not in config.type_drivers:
        raise InvalidInput(f"network_type value '{network_type}' not supported")
    return TYPE_DRIVERS[network_type]


def validate_segment(network_type: str, physnet: str | None, seg_id: int | None,
                     config: TypeConfig) -> None:
    """Raise InvalidInput unless (type, physnet, seg_id) is a valid provider segment.

    ``seg_id=None`` is accepted where the type can allocate one (vlan with a physnet
    that has tenant ranges, tunnels); ``physnet=None`` for vlan likewise.
    """
    d = driver(network_type, config)
    if d.physnet == "forbidden" and physnet:
        raise InvalidInput(f"provider:physical_network specified for {network_type} network")
    if d.name == "flat":
        _validate_flat(physnet, seg_id, config)
    elif d.name == "vlan":
        _validate_vlan(physnet, seg_id, config)
    elif not d.segmented and seg_id is not None:
        raise InvalidInput(f"provider:segmentation_id specified for {network_type} network")
    elif d.segmented and seg_id is not None and not d.seg_min <= seg_id <= d.seg_max:
        raise InvalidInput(f"{network_type} segmentation_id {seg_id} out of range "
                           f"({d.seg_min} through {d.seg_max})")


def _validate_flat(physnet: str | None, seg_id: int | None, config: TypeConfig) -> None:
    if seg_id is not None:
        raise InvalidInput("provider:segmentation_id specified for flat network")
    if not physnet:
        raise InvalidInput("provider:physical_network required for flat provider network")
    if "*" not in config.flat_networks and physnet not in config.flat_networks:
        raise InvalidInput(f"physical_network '{physnet}' unknown for flat provider network")


def _validate_vlan(physnet: str | None, seg_id: int | None, config: TypeConfig) -> None:
    if physnet is None:
        if seg_id is not None:
            raise InvalidInput("segmentation_id requires physical_network for VLAN provider network")
        return
    if physnet not in config.vlan_ranges:
        raise InvalidInput(f"physical_network '{physnet}' unknown for VLAN provider network")
    if seg_id is not None and not 1 <= seg_id <= 4094:
        raise InvalidInput(f"segmentation_id out of range ({seg_id}): must be 1 through 4094")


def allocation_candidates(network_type: str, config: TypeConfig,
                          physnet: str | None = None) -> Iterator[tuple[str | None, int]]:
    """Tenant segments to try, in order: (physnet, seg_id) pairs.

    Deterministic (lowest first, physnets sorted) so that two deciders racing for
    the same segment collide on the same claim instead of both "winning".
    """
    d = driver(network_type, config)
    if d.name == "vlan":
        nets = [physnet] if physnet else sorted(config.vlan_ranges)
        for net in nets:
            for lo, hi in sorted(config.vlan_ranges.get(net, ())):
                for seg in range(lo, hi + 1):
                    yield net, seg
    elif d.tunnel:
        for lo, hi in sorted(config.tunnel_ranges.get(network_type, ())):
            for seg in range(max(lo, d.seg_min), min(hi, d.seg_max) + 1):
                yield None, seg


def network_mtu(network_type: str, physical_mtu: int = 1500) -> int:
    """The largest MTU an instance on this type can use over a ``physical_mtu`` underlay."""
    return physical_mtu - _OVERHEAD.get(network_type, 0)


def host_network_types(tunnel_ip: str, bridge_mappings: dict[str, str]) -> tuple[str, ...]:
    """Types a host can serve: local always, flat/vlan with mappings, tunnels with an IP."""
    types = ["local"]
    if bridge_mappings:
        types += ["flat", "vlan"]
    if tunnel_ip:
        types += list(TUNNEL_TYPES)
    return tuple(types)
