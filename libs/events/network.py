"""Facts about networks (aggregate subject: ``subjects.network``)."""

from __future__ import annotations

from .base import UNSET, Event, Struct, UnsetType


class Segment(Struct, frozen=True, kw_only=True):
    """Where a network lives on the wire (ML2's segment): chosen once, in the event."""

    network_type: str = "local"
    physical_network: str | None = None
    segmentation_id: int | None = None


class NetworkCreated(Event, tag="NetworkCreated", frozen=True, kw_only=True):
    network_id: str
    project_id: str
    name: str = ""
    description: str = ""
    admin_state_up: bool = True
    shared: bool = False
    mtu: int = 1450
    port_security_enabled: bool = True
    router_external: bool = False
    segments: tuple[Segment, ...] = ()
    tags: tuple[str, ...] = ()


class NetworkUpdated(Event, tag="NetworkUpdated", frozen=True, kw_only=True):
    """Only the fields that changed are set; the rest stay UNSET (absent on the wire)."""

    network_id: str
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    admin_state_up: bool | UnsetType = UNSET
    shared: bool | UnsetType = UNSET
    mtu: int | UnsetType = UNSET
    port_security_enabled: bool | UnsetType = UNSET
    router_external: bool | UnsetType = UNSET


class NetworkDeleted(Event, tag="NetworkDeleted", frozen=True, kw_only=True):
    """Deleting a network deletes its subnets with it (as Neutron does)."""

    network_id: str


class TagsChanged(Event, tag="TagsChanged", frozen=True, kw_only=True):
    """The whole tag set of the envelope's aggregate after the change."""

    resource_id: str
    tags: tuple[str, ...] = ()
