"""Facts about floating IPs (aggregate subject: ``subjects.aggregate('floatingip', id)``).

The address belongs to a real port on the external network (device_owner
``network:floatingip``, device_id = the floating IP id) whose ``PortCreated`` lands in
the same atomic batch as ``FloatingIpCreated``. The router that serves an association
is decided when associating (the router with a gateway on the floating network and an
interface on the internal port's subnet) and recorded in the fact.
"""

from __future__ import annotations

from .base import UNSET, Event, UnsetType


class FloatingIpCreated(Event, tag="FloatingIpCreated", frozen=True, kw_only=True):
    floatingip_id: str
    project_id: str
    floating_network_id: str
    floating_subnet_id: str
    floating_ip_address: str
    floating_port_id: str
    description: str = ""
    port_id: str = ""
    fixed_ip_address: str = ""
    router_id: str = ""
    tags: tuple[str, ...] = ()


class FloatingIpAssociated(Event, tag="FloatingIpAssociated", frozen=True, kw_only=True):
    floatingip_id: str
    port_id: str
    fixed_ip_address: str
    router_id: str


class FloatingIpDisassociated(Event, tag="FloatingIpDisassociated", frozen=True, kw_only=True):
    floatingip_id: str


class FloatingIpUpdated(Event, tag="FloatingIpUpdated", frozen=True, kw_only=True):
    floatingip_id: str
    description: str | UnsetType = UNSET


class FloatingIpDeleted(Event, tag="FloatingIpDeleted", frozen=True, kw_only=True):
    floatingip_id: str
    floating_port_id: str


EVENTS = (FloatingIpCreated, FloatingIpAssociated, FloatingIpDisassociated, FloatingIpUpdated, FloatingIpDeleted)
