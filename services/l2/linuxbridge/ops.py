"""Linux bridge operations as data. The driver applies them; the planner orders them.

Order (the planner's job): flood-entry deletes, releases from our bridges, link
deletes (VXLAN before bridges), link adds (bridges before VXLAN), fixes, enslaves,
set-ups, flood-entry adds. Every op is one netlink write.
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


AnyOp = Union[AddLink, DelLink, MarkLink, SetMtu, SetMaster, SetUp, AddFlood, DelFlood]


def write_count(ops: list[Op]) -> int:
    """Dataplane writes an op list costs: one netlink request per op."""
    return len(ops)
