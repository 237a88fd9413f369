"""Pure: which Nova external events a fact or a port status change calls for.

Neutron's rules (neutron/notifiers/nova.py), for compute ports only (device_owner
``compute:*`` and a UUID device_id):
- status NO_VALUE/DOWN/BUILD -> ACTIVE/ERROR: ``network-vif-plugged`` (completed/failed);
- status ACTIVE -> DOWN: ``network-vif-unplugged`` (completed);
- a port deleted: ``network-vif-deleted``;
- the port's addresses changed, or a floating IP (dis)associated to it: ``network-changed``.
Every event's ``tag`` is the port id and ``server_uuid`` the instance (device_id).
``NovaState`` is the little fold this needs (port -> device, floating IP -> port),
mutated in place by :func:`on_fact`; no clock, no I/O.
"""

from __future__ import annotations

import uuid

import msgspec

from netledger.libs.events.base import UNSET
from netledger.libs.events.floatingip import (FloatingIpAssociated, FloatingIpCreated, FloatingIpDeleted,
                                              FloatingIpDisassociated)
from netledger.libs.events.port import PortCreated, PortDeleted, PortUpdated

PLUGGED, UNPLUGGED = "network-vif-plugged", "network-vif-unplugged"
DELETED, CHANGED = "network-vif-deleted", "network-changed"
STATUS = {"ACTIVE": "completed", "ERROR": "failed", "DOWN": "completed"}


class NovaEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One entry of ``POST /v2.1/os-server-external-events``'s ``events`` list."""

    name: str
    server_uuid: str
    tag: str
    status: str = ""


class PortView(msgspec.Struct, kw_only=True):
    device_id: str = ""
    device_owner: str = ""
    status: str = ""          # "" = never reported (Neutron's NO_VALUE)


class NovaState(msgspec.Struct, kw_only=True):
    ports: dict[str, PortView] = {}
    fips: dict[str, str] = {}     # floating IP -> port it is associated with


def is_compute(view: PortView | None) -> bool:
    if view is None or not view.device_id or not view.device_owner.startswith("compute:"):
        return False
    try:
        uuid.UUID(view.device_id)
    except ValueError:
        return False
    return True


def _changed(state: NovaState, port_id: str) -> list[NovaEvent]:
    view = state.ports.get(port_id)
    return [NovaEvent(name=CHANGED, server_uuid=view.device_id, tag=port_id)] if is_compute(view) else []


def on_fact(state: NovaState, event) -> list[NovaEvent]:
    """Fold one event-stream fact; the Nova events it implies."""
    match event:
        case PortCreated():
            state.ports[event.port_id] = PortView(device_id=event.device_id, device_owner=event.device_owner,
                                                  status="DOWN")
        case PortUpdated():
            view = state.ports.setdefault(event.port_id, PortView())
            if event.device_id is not UNSET:
                view.device_id = event.device_id
            if event.device_owner is not UNSET:
                view.device_owner = event.device_owner
            if event.fixed_ips is not UNSET or event.mac_address is not UNSET:
                return _changed(state, event.port_id)
        case PortDeleted():
            view = state.ports.pop(event.port_id, None)
            if is_compute(view):
                return [NovaEvent(name=DELETED, server_uuid=view.device_id, tag=event.port_id)]
        case FloatingIpCreated() if event.port_id:
            state.fips[event.floatingip_id] = event.port_id
            return _changed(state, event.port_id)
        case FloatingIpAssociated():
            before = state.fips.get(event.floatingip_id)
            state.fips[event.floatingip_id] = event.port_id
            # Moved without a disassociation first: the old instance hears of it too.
            old = _changed(state, before) if before and before != event.port_id else []
            return old + _changed(state, event.port_id)
        case FloatingIpDisassociated() | FloatingIpDeleted():
            before = state.fips.pop(event.floatingip_id, None)
            return _changed(state, before) if before else []
    return []


def on_status(state: NovaState, port_id: str, status: str) -> list[NovaEvent]:
    """A port's status as the API shows it changed to ``status``."""
    view = state.ports.get(port_id)
    if view is None:
        return []
    previous, view.status = view.status, status
    if not is_compute(view):
        return []
    if previous == "ACTIVE" and status == "DOWN":
        name = UNPLUGGED
    elif previous in ("", "DOWN", "BUILD") and status in ("ACTIVE", "ERROR"):
        name = PLUGGED
    else:
        return []
    return [NovaEvent(name=name, server_uuid=view.device_id, tag=port_id, status=STATUS[status])]
