"""Per-port packet marks (pure): how a Linux bridge host's inet SG tables tell ports apart.

Why marks: with br_netfilter the inet forward hook sees a bridged frame with the bridge
as both iif and oif (PLATFORM.md), so an inet table cannot see the tap. Matching the
port's MAC instead misses frames a guest sends or receives with an allowed-address-pair
MAC, and broadcasts/multicasts, which carry no port MAC at all. The bridge family does
see the tap, so the port's bridge table (``render_nft_bridge``) writes the port's slot
into ``skb->mark``, and the inet table (``render_nft``) matches it:

- OUT field (bits 20-31): set in bridge prerouting for every frame from the tap: the
  port *sent* it, so its egress rules apply;
- IN field (bits 8-19): set in bridge forward for every frame leaving through the tap:
  it is *delivered to* the port, so its ingress rules apply. That hook runs once per
  output port, on each flooded copy, so every copy carries its own receiver.

Two fields, because a frame between two filtered ports of one host must meet the
sender's egress and the receiver's ingress rules. The bridge hooks run at priority
filter (-200), before br_netfilter (priority 0 in prerouting, -1 in forward) hands the
same skb to the inet hooks; checked with real frames in a scratch namespace on this
kernel (6.18) with nft 1.0.6, flooded copies included. Bits 0-7 are never touched.

Stray bits from elsewhere can only add filtering, never skip it: every frame from (to)
a filtered tap gets that port's slot in the OUT (IN) field, overwriting what was there.
The port's bridge table clears both fields again in bridge postrouting: without that,
the mark stayed on the skb when VXLAN encapsulated it (seen on the underlay packet),
where the host's routing (fwmark rules) and firewall would see it.

Slots: 1..4095 (0 = no port), one per filtered port of the host. A port prefers
crc32(port id) mod 4095 + 1 (stable across processes and hosts; Python's ``hash`` is
salted); collisions are resolved by linear probing in sorted port-id order, so the
assignment is a pure function of the set of filtered ports: the same set gives the same
slots, from scratch or incrementally. A new port that collides may move a port whose id
sorts after it; that port's two tables change in the same nft transaction.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

WIDTH = 12
SLOTS = (1 << WIDTH) - 1               # usable slots per host: 1..4095
OUT_SHIFT, IN_SHIFT = 20, 8
OUT_MASK = SLOTS << OUT_SHIFT          # 0xfff00000
IN_MASK = SLOTS << IN_SHIFT            # 0x000fff00
KEEP = 0xFFFFFFFF ^ OUT_MASK ^ IN_MASK  # 0x000000ff: bits left to others


def _hex(v: int) -> str:
    return f"{v:#010x}"


def preferred_slot(port_id: str, slots: int | None = None) -> int:
    return zlib.crc32(port_id.encode()) % (slots or SLOTS) + 1


def assign_slots(port_ids: Iterable[str], slots: int | None = None) -> dict[str, int]:
    """Port id -> slot in 1..``slots`` (default ``SLOTS``), all distinct. A port past the
    capacity gets no slot (the caller must keep it off the bridge: it could not be
    filtered)."""
    slots = slots or SLOTS
    taken: set[int] = set()
    out: dict[str, int] = {}
    for pid in sorted(set(port_ids)):
        if len(taken) == slots:
            break
        s = preferred_slot(pid, slots)
        while s in taken:
            s = s % slots + 1
        taken.add(s)
        out[pid] = s
    return out


def _check(slot: int) -> int:
    if not 1 <= slot <= SLOTS:
        raise ValueError(f"mark slot {slot} outside 1..{SLOTS}")
    return slot


def set_from_port(slot: int) -> str:
    """Bridge prerouting, a frame from the port's tap: OUT = slot, IN = 0."""
    return f"meta mark set meta mark & {_hex(KEEP)} | {_hex(_check(slot) << OUT_SHIFT)}"


def set_to_port(slot: int) -> str:
    """Bridge forward, a frame out through the port's tap: IN = slot, OUT kept."""
    return f"meta mark set meta mark & {_hex(KEEP | OUT_MASK)} | {_hex(_check(slot) << IN_SHIFT)}"


def from_port(slot: int) -> str:
    """The inet-side match: the port sent this frame."""
    return f"meta mark & {_hex(OUT_MASK)} == {_hex(_check(slot) << OUT_SHIFT)}"


def to_port(slot: int) -> str:
    """The inet-side match: this frame is delivered to the port."""
    return f"meta mark & {_hex(IN_MASK)} == {_hex(_check(slot) << IN_SHIFT)}"


def clear() -> str:
    return f"meta mark set meta mark & {_hex(KEEP)}"
