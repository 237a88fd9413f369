"""Linux bridge operations as data. The driver applies them; the planner orders them.

Order (the planner's job): flood-entry deletes, releases from our bridges, link
deletes (VXLAN before bridges), guard and SG table deletes (then br_netfilter off if
nothing is filtered), link adds (bridges before VXLAN), fixes, guard and SG table
replaces (then br_netfilter on), enslaves, set-ups, flood-entry adds. Every op is one
write (a netlink request, a sysctl pair, or one table in an nft transaction).
"""

from __future__ import annotations

from typing import Union

import msgspec


class Op(msgspec.Struct, frozen=True, kw_only=True, tag_field="op"):
    pass


class AddLink(Op, frozen=True, kw_only=True, tag="AddLink"):
    """Create a marked bridge or VXLAN device (down, no master)."""

    name: str
    kind: str                       # bridge | vxlan
    vni: int | None = None
    local: str = ""
    mtu: int = 0


class DelLink(Op, frozen=True, kw_only=True, tag="DelLink"):
    name: str


class MarkLink(Op, frozen=True, kw_only=True, tag="MarkLink"):
    """Adopt a link with our name and the right shape that lacks the mark."""

    name: str


class SetMtu(Op, frozen=True, kw_only=True, tag="SetMtu"):
    name: str
    mtu: int


class SetMaster(Op, frozen=True, kw_only=True, tag="SetMaster"):
    """Enslave ``name`` to bridge ``master``; ``master=""`` releases it."""

    name: str
    master: str


class SetUp(Op, frozen=True, kw_only=True, tag="SetUp"):
    name: str


class AddFlood(Op, frozen=True, kw_only=True, tag="AddFlood"):
    """``bridge fdb append 00:00:00:00:00:00 dev <dev> dst <dst>`` (l2pop style)."""

    dev: str
    dst: str


class DelFlood(Op, frozen=True, kw_only=True, tag="DelFlood"):
    dev: str
    dst: str


class ReplaceNftTable(Op, frozen=True, kw_only=True, tag="ReplaceNftTable"):
    """Delete and re-add ``table <family> <name>`` with ``text`` in one nft transaction.

    ``family``: ``inet`` for a port's security groups, ``bridge`` for its anti-spoofing guard.
    """

    name: str
    digest: str
    text: str
    family: str = "inet"


class DelNftTable(Op, frozen=True, kw_only=True, tag="DelNftTable"):
    name: str
    family: str = "inet"


class SetBridgeNf(Op, frozen=True, kw_only=True, tag="SetBridgeNf"):
    """net.bridge.bridge-nf-call-{iptables,ip6tables} in the host namespace."""

    on: bool


AnyOp = Union[AddLink, DelLink, MarkLink, SetMtu, SetMaster, SetUp, AddFlood, DelFlood,
              ReplaceNftTable, DelNftTable, SetBridgeNf]


def write_count(ops: list[Op]) -> int:
    """Dataplane writes an op list costs: one per op."""
    return len(ops)
