"""Facts about routers (aggregate subject: ``subjects.aggregate('router', id)``).

A router's interfaces and gateway are real ports: their addresses and MACs are
claimed and their ``PortCreated`` facts published in the same atomic batch as the
router fact that uses them, so a router never names a port that does not exist.
``RouterScheduled`` is published by topology's scheduler (see services/l3/scheduler.py),
expecting the router's last sequence, so it can never overwrite a concurrent API write.
"""

from __future__ import annotations

from .base import UNSET, Event, Struct, UnsetType


class Route(Struct, frozen=True, kw_only=True):
    destination: str
    nexthop: str


class ExternalFixedIp(Struct, frozen=True, kw_only=True):
    subnet_id: str
    ip_address: str


class RouterCreated(Event, tag="RouterCreated", frozen=True, kw_only=True):
    router_id: str
    project_id: str
    name: str = ""
    description: str = ""
    admin_state_up: bool = True
    routes: tuple[Route, ...] = ()
    tags: tuple[str, ...] = ()


class RouterUpdated(Event, tag="RouterUpdated", frozen=True, kw_only=True):
    """Only changed fields are set; ``routes`` is always the whole new set (extraroute
    and the atomic add/remove_extraroutes both end here, expecting the router's seq)."""

    router_id: str
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    admin_state_up: bool | UnsetType = UNSET
    routes: tuple[Route, ...] | UnsetType = UNSET


class RouterGatewaySet(Event, tag="RouterGatewaySet", frozen=True, kw_only=True):
    router_id: str
    network_id: str
    port_id: str
    enable_snat: bool = True
    external_fixed_ips: tuple[ExternalFixedIp, ...] = ()


class RouterGatewayCleared(Event, tag="RouterGatewayCleared", frozen=True, kw_only=True):
    router_id: str
    port_id: str


class RouterInterfaceAdded(Event, tag="RouterInterfaceAdded", frozen=True, kw_only=True):
    router_id: str
    port_id: str
    subnet_id: str
    network_id: str


class RouterInterfaceRemoved(Event, tag="RouterInterfaceRemoved", frozen=True, kw_only=True):
    router_id: str
    port_id: str
    subnet_id: str


class RouterScheduled(Event, tag="RouterScheduled", frozen=True, kw_only=True):
    """The L3 worker (host) that hosts the router; host "" = no live worker."""

    router_id: str
    host: str
    agent_id: str = ""
    previous_host: str = ""


class RouterDeleted(Event, tag="RouterDeleted", frozen=True, kw_only=True):
    router_id: str


EVENTS = (RouterCreated, RouterUpdated, RouterGatewaySet, RouterGatewayCleared, RouterInterfaceAdded,
          RouterInterfaceRemoved, RouterScheduled, RouterDeleted)
