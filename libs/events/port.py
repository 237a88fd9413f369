"""Facts about ports (aggregate subject: ``subjects.aggregate('port', id)``).

Every address and MAC in these events was claimed first (see :mod:`claims`); the
fold never allocates.
"""

from __future__ import annotations

from typing import Any

from .base import UNSET, Event, Struct, UnsetType


class FixedIp(Struct, frozen=True, kw_only=True):
    subnet_id: str
    ip_address: str


class AddressPair(Struct, frozen=True, kw_only=True):
    ip_address: str
    mac_address: str


class ExtraDhcpOpt(Struct, frozen=True, kw_only=True):
    """One option of the extra_dhcp_opt extension (dnsmasq name or number, and value)."""

    opt_name: str
    opt_value: str
    ip_version: int               # no default: always on the wire and in API bodies


class PortCreated(Event, tag="PortCreated", frozen=True, kw_only=True):
    port_id: str
    network_id: str
    project_id: str
    name: str = ""
    description: str = ""
    mac_address: str
    fixed_ips: tuple[FixedIp, ...] = ()
    admin_state_up: bool = True
    device_id: str = ""
    device_owner: str = ""
    binding_host_id: str = ""
    binding_profile: dict[str, Any] = {}
    binding_vnic_type: str = "normal"
    binding_vif_type: str = "unbound"
    binding_vif_details: dict[str, Any] = {}
    port_security_enabled: bool = True
    security_groups: tuple[str, ...] = ()
    allowed_address_pairs: tuple[AddressPair, ...] = ()
    tags: tuple[str, ...] = ()
    extra_dhcp_opts: tuple[ExtraDhcpOpt, ...] = ()


class PortUpdated(Event, tag="PortUpdated", frozen=True, kw_only=True):
    port_id: str
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    fixed_ips: tuple[FixedIp, ...] | UnsetType = UNSET
    mac_address: str | UnsetType = UNSET
    admin_state_up: bool | UnsetType = UNSET
    device_id: str | UnsetType = UNSET
    device_owner: str | UnsetType = UNSET
    binding_host_id: str | UnsetType = UNSET
    binding_profile: dict[str, Any] | UnsetType = UNSET
    binding_vnic_type: str | UnsetType = UNSET
    binding_vif_type: str | UnsetType = UNSET
    binding_vif_details: dict[str, Any] | UnsetType = UNSET
    port_security_enabled: bool | UnsetType = UNSET
    security_groups: tuple[str, ...] | UnsetType = UNSET
    allowed_address_pairs: tuple[AddressPair, ...] | UnsetType = UNSET
    extra_dhcp_opts: tuple[ExtraDhcpOpt, ...] | UnsetType = UNSET


class PortDeleted(Event, tag="PortDeleted", frozen=True, kw_only=True):
    port_id: str
    network_id: str
