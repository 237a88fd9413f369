"""Type-driver rules: which segment a network gets (ML2's type drivers, pure).

Provider attributes (admin) are validated per type; otherwise the network gets the
first configured tenant type and a random free segmentation id from its range. The
chosen id is claimed on its own subject, so two creates never share it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Protocol

from netledger.errors import BadRequest, Conflict, InvalidInput, ServiceUnavailable
from netledger.libs.events.network import Segment

TUNNEL_TYPES = ("vxlan", "gre", "geneve")
TYPES = ("local", "flat", "vlan", *TUNNEL_TYPES)
MAX_ID = {"vlan": 4094, "vxlan": 2**24 - 1, "geneve": 2**24 - 1, "gre": 2**32 - 1}
# Encapsulation overhead over the physical MTU (IPv4 underlay), as Neutron computes it.
OVERHEAD = {"vxlan": 50, "gre": 42, "geneve": 58}

class HeldSegments(Protocol):
    """The segment claims of one (type, physnet), asked about only what a decision needs:
    reading every claim per network create made allocation O(networks)."""

    def states(self, ids: list[int]) -> dict[int, tuple[bool, int]]:
        """(held?, last sequence on the claim subject) of these ids (absent: never claimed)."""
    def held_count(self, lo: int, hi: int) -> int: ...
    def held_ids(self, lo: int, hi: int) -> set[int]: ...


HeldLookup = Callable[[str, str], HeldSegments]


class HeldMap:
    """HeldSegments over a plain dict (tests, small tools)."""

    def __init__(self, claims: dict[int, tuple[bool, int]]) -> None:
        self.claims = claims

    def states(self, ids: list[int]) -> dict[int, tuple[bool, int]]:
        return {i: self.claims[i] for i in ids if i in self.claims}

    def held_count(self, lo: int, hi: int) -> int:
        return len(self.held_ids(lo, hi))

    def held_ids(self, lo: int, hi: int) -> set[int]:
        return {i for i, (h, _) in self.claims.items() if h and lo <= i <= hi}


@dataclass(frozen=True)
class SegmentConfig:
    tenant_network_types: tuple[str, ...] = ("vxlan",)
    ranges: dict[str, tuple[int, int]] = field(default_factory=lambda: {
        "vxlan": (1, 65535), "gre": (1, 65535), "geneve": (1, 65535)})
    vlan_ranges: dict[str, tuple[int, int]] = field(default_factory=lambda: {"physnet1": (100, 199)})
    flat_networks: tuple[str, ...] = ("physnet1",)
    physical_mtu: int = 1500

    def mtu_for(self, network_type: str) -> int:
        return self.physical_mtu - OVERHEAD.get(network_type, 0)


def choose_segment(req: dict, cfg: SegmentConfig, held: HeldLookup, rng: random.Random) -> tuple[Segment, int]:
    """Return the segment and the claim subject's expected last sequence."""
    ntype = req.get("provider:network_type")
    physnet = req.get("provider:physical_network") or None
    seg_id = req.get("provider:segmentation_id")
    if ntype is None:
        if physnet or seg_id is not None:
            raise InvalidInput("provider:network_type required")
        return _allocate_tenant(cfg, held, rng)
    if ntype not in TYPES:
        raise InvalidInput(f"network_type value '{ntype}' not supported")
    if ntype == "local":
        _forbid(physnet, "provider:physical_network", ntype)
        _forbid(seg_id, "provider:segmentation_id", ntype)
        return Segment(network_type="local"), 0
    if ntype == "flat":
        _forbid(seg_id, "provider:segmentation_id", ntype)
        if not physnet:
            raise InvalidInput("physical_network required for flat provider network")
        if physnet not in cfg.flat_networks:
            raise InvalidInput(f"physical_network '{physnet}' unknown for flat provider network")
        return Segment(network_type="flat", physical_network=physnet), 0
    if ntype == "vlan":
        if not physnet:
            raise InvalidInput("physical_network required for VLAN provider network")
        if physnet not in cfg.vlan_ranges:
            raise InvalidInput(f"physical_network '{physnet}' unknown for VLAN provider network")
        lo, hi = (1, 4094) if seg_id is not None else cfg.vlan_ranges[physnet]
    else:
        _forbid(physnet, "provider:physical_network", ntype)
        lo, hi = (1, MAX_ID[ntype]) if seg_id is not None else cfg.ranges.get(ntype, (1, 0))
    if seg_id is not None:
        return _requested(ntype, physnet, seg_id, lo, hi, held)
    return _pick(ntype, physnet, lo, hi, held, rng)


def _forbid(value, name: str, ntype: str) -> None:
    if value not in (None, ""):
        raise InvalidInput(f"{name} prohibited for {ntype} provider network")


def _requested(ntype, physnet, seg_id, lo, hi, held) -> tuple[Segment, int]:
    if not lo <= seg_id <= hi:
        raise InvalidInput(f"segmentation_id out of range ({lo} through {hi})")
    is_held, seq = held(ntype, physnet or "").states([seg_id]).get(seg_id, (False, 0))
    if is_held:
        what = f"VLAN {seg_id} on physical network {physnet}" if ntype == "vlan" else f"tunnel id {seg_id}"
        raise Conflict(f"Unable to create the network. The {what} is in use.",
                       type="VlanIdInUse" if ntype == "vlan" else "TunnelIdInUse")
    return Segment(network_type=ntype, physical_network=physnet, segmentation_id=seg_id), seq


def _pick(ntype, physnet, lo, hi, held, rng) -> tuple[Segment, int]:
    state = held(ntype, physnet or "")
    if hi < lo or (hi - lo + 1) - state.held_count(lo, hi) <= 0:
        raise ServiceUnavailable("Unable to create the network. No tenant network is available for allocation.",
                                 type="NoNetworkAvailable")
    # Random probing keeps concurrent allocators apart; fall back to a scan when dense.
    probes = [rng.randint(lo, hi) for _ in range(64)]
    known = state.states(probes)
    cand = next((c for c in probes if not known.get(c, (False, 0))[0]), None)
    if cand is None:
        taken = state.held_ids(lo, hi)
        cand = next(i for i in range(lo, hi + 1) if i not in taken)
        known = state.states([cand])
    seg = Segment(network_type=ntype, physical_network=physnet, segmentation_id=cand)
    return seg, known.get(cand, (False, 0))[1]


def _allocate_tenant(cfg: SegmentConfig, held: HeldLookup, rng: random.Random) -> tuple[Segment, int]:
    last_error: Exception | None = None
    for ntype in cfg.tenant_network_types:
        if ntype == "local":
            return Segment(network_type="local"), 0
        try:
            if ntype == "vlan":
                for physnet, (lo, hi) in sorted(cfg.vlan_ranges.items()):
                    try:
                        return _pick("vlan", physnet, lo, hi, held, rng)
                    except ServiceUnavailable as exc:
                        last_error = exc
                continue
            lo, hi = cfg.ranges.get(ntype, (1, 0))
            return _pick(ntype, None, lo, hi, held, rng)
        except ServiceUnavailable as exc:
            last_error = exc
    raise last_error or BadRequest("No tenant network types configured")
