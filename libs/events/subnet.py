"""Facts about subnets (aggregate subject: ``subjects.subnet``)."""

from __future__ import annotations

from .base import UNSET, Event, Struct, UnsetType


class Pool(Struct, frozen=True, kw_only=True):
    start: str
    end: str


class HostRoute(Struct, frozen=True, kw_only=True):
    destination: str
    nexthop: str


class SubnetCreated(Event, tag="SubnetCreated", frozen=True, kw_only=True):
    subnet_id: str
    network_id: str
    project_id: str
    name: str = ""
    description: str = ""
    cidr: str
    ip_version: int
    gateway_ip: str | None = None
    allocation_pools: tuple[Pool, ...] = ()
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[HostRoute, ...] = ()
    enable_dhcp: bool = True
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None
    tags: tuple[str, ...] = ()


class SubnetUpdated(Event, tag="SubnetUpdated", frozen=True, kw_only=True):
    subnet_id: str
    network_id: str
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    gateway_ip: str | None | UnsetType = UNSET
    allocation_pools: tuple[Pool, ...] | UnsetType = UNSET
    dns_nameservers: tuple[str, ...] | UnsetType = UNSET
    host_routes: tuple[HostRoute, ...] | UnsetType = UNSET
    enable_dhcp: bool | UnsetType = UNSET


class SubnetDeleted(Event, tag="SubnetDeleted", frozen=True, kw_only=True):
    subnet_id: str
    network_id: str
