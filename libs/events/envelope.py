"""The envelope every event travels in, and the union of all event shapes."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Union

import msgspec

from netledger.optional import import_optional

from .claims import IpClaimed, IpReleased, MacClaimed, MacReleased, SegmentClaimed, SegmentReleased
from .network import NetworkCreated, NetworkDeleted, NetworkUpdated, TagsChanged
from .port import PortCreated, PortDeleted, PortUpdated
from .status import AgentHeartbeat, PortStatusReported
from .subnet import SubnetCreated, SubnetDeleted, SubnetUpdated

CORE_EVENTS = (
    NetworkCreated, NetworkUpdated, NetworkDeleted, TagsChanged,
    SubnetCreated, SubnetUpdated, SubnetDeleted,
    PortCreated, PortUpdated, PortDeleted,
    IpClaimed, IpReleased, MacClaimed, MacReleased, SegmentClaimed, SegmentReleased,
    PortStatusReported, AgentHeartbeat,
)
# Each resource family keeps its events in its own module exposing EVENTS (a tuple of
# event classes); the union below is what every envelope can carry.
FAMILY_MODULES = ("router", "floatingip", "security_group", "quota", "rbac", "fwaas", "vpnaas", "octavia",
                  "dhcp", "l3_status")


def _family_events() -> tuple:
    found = []
    for name in FAMILY_MODULES:
        module = import_optional(f"{__package__}.{name}")
        if module:
            found.extend(module.EVENTS)
    return tuple(found)


ALL_EVENTS = CORE_EVENTS + _family_events()
AnyEvent = Union[ALL_EVENTS]  # type: ignore[valid-type]


class Actor(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    user_id: str = ""
    project_id: str = ""
    is_admin: bool = False


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """Who did what to which aggregate, when, and because of what.

    The stream sequence is not inside: it is assigned by JetStream and travels in the
    message metadata; folds receive it next to the envelope.
    """

    id: str
    kind: str
    aggregate_id: str
    request_id: str = ""
    actor: Actor = Actor()
    time: str
    causation_id: str = ""
    event: AnyEvent


def utc_now() -> str:
    """Neutron's timestamp format (second precision, 'Z')."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return str(uuid.uuid4())


def wrap(event: AnyEvent, *, kind: str, aggregate_id: str, request_id: str = "",
         actor: Actor | None = None, causation_id: str = "", time: str | None = None) -> Envelope:
    return Envelope(
        id=new_id(), kind=kind, aggregate_id=aggregate_id, request_id=request_id,
        actor=actor or Actor(), time=time or utc_now(), causation_id=causation_id, event=event,
    )
