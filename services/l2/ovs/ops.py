"""OVS operations as data. Drivers apply them; the planner only returns them.

Order matters and is the planner's job: flow deletes first (their port names must
still resolve), then OVSDB deletes, then OVSDB adds/sets, then flow adds (the ports
they name must exist).
"""

from __future__ import annotations

from typing import Union

import msgspec


class Op(msgspec.Struct, frozen=True, kw_only=True, tag_field="op"):
    pass


class AddBridge(Op, frozen=True, kw_only=True, tag="AddBridge"):
    name: str
    fail_mode: str = ""


class DelBridge(Op, frozen=True, kw_only=True, tag="DelBridge"):
    name: str


class SetLocalVlan(Op, frozen=True, kw_only=True, tag="SetLocalVlan"):
    """Record network -> local VLAN in the integration bridge's external_ids."""

    bridge: str
    network_id: str
    vlan: int


class DelLocalVlan(Op, frozen=True, kw_only=True, tag="DelLocalVlan"):
    bridge: str
    network_id: str


class AddPort(Op, frozen=True, kw_only=True, tag="AddPort"):
    """A port we own (patch or tunnel), marked in Port and Interface external_ids."""

    bridge: str
    name: str
    type: str
    options: dict[str, str] = {}


class DelPort(Op, frozen=True, kw_only=True, tag="DelPort"):
    bridge: str
    name: str


class SetInterface(Op, frozen=True, kw_only=True, tag="SetInterface"):
    """Fix the type/options of one of our ports edited out of band."""

    name: str
    type: str
    options: dict[str, str] = {}


class SetPortTag(Op, frozen=True, kw_only=True, tag="SetPortTag"):
    """Put an instance port on a local VLAN (or the dead VLAN) and mark it ours."""

    name: str
    tag: int


class DelFlows(Op, frozen=True, kw_only=True, tag="DelFlows"):
    bridge: str
    flows: tuple[str, ...]


class AddFlows(Op, frozen=True, kw_only=True, tag="AddFlows"):
    bridge: str
    flows: tuple[str, ...]


AnyOp = Union[AddBridge, DelBridge, SetLocalVlan, DelLocalVlan, AddPort, DelPort,
              SetInterface, SetPortTag, DelFlows, AddFlows]


def write_count(ops: list[Op]) -> int:
    """Dataplane writes an op list costs: one per OVSDB op, one per flow line."""
    return sum(len(op.flows) if isinstance(op, (AddFlows, DelFlows)) else 1 for op in ops)
