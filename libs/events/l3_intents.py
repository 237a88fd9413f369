"""Desired state of one router on its L3 host (KV bucket ``NL_L3``).

Key ``<host_token>.router.<router_id>``; a deleted key means "this host should not
have this router". Values are msgspec JSON of :class:`RouterIntent`. Like the L2
intents they are compiled by topology from the projection and only published when
they change; the L3 worker reconciles them level-triggered.
"""

from __future__ import annotations

from .base import Struct
from .fwaas import FwGroupIntent
from .router import Route

L3_BUCKET = "NL_L3"


class L3Port(Struct, frozen=True, kw_only=True):
    """A router port: an OVS internal port with iface-id=port_id moved into the router
    namespace; ``cidrs`` are its addresses with prefix length ("10.0.0.1/24")."""

    port_id: str
    network_id: str
    mac_address: str
    cidrs: tuple[str, ...] = ()
    mtu: int = 1450


class L3Gateway(Struct, frozen=True, kw_only=True):
    port: L3Port
    gateway_ip: str = ""             # the external subnet's gateway: our default route
    enable_snat: bool = True


class L3FloatingIp(Struct, frozen=True, kw_only=True):
    floatingip_id: str
    floating_ip_address: str
    fixed_ip_address: str


class RouterIntent(Struct, frozen=True, kw_only=True):
    router_id: str
    revision: int = 0
    admin_state_up: bool = True
    interfaces: tuple[L3Port, ...] = ()
    gateway: L3Gateway | None = None
    routes: tuple[Route, ...] = ()
    floating_ips: tuple[L3FloatingIp, ...] = ()
    firewall_groups: tuple[FwGroupIntent, ...] = ()   # FWaaS v2 groups on this router's ports


def router_key(host_token: str, router_id: str) -> str:
    return f"{host_token}.router.{router_id}"
