"""What the L3 worker wants and sees for one router, as plain values (pure)."""

from __future__ import annotations

import msgspec


class WantPort(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    port_id: str
    mac: str
    mtu: int
    cidrs: frozenset[str] = frozenset()


class Want(msgspec.Struct, frozen=True, kw_only=True):
    """A router as the dataplane should carry it (derived from its intent)."""

    router_id: str
    netns: str
    ports: dict[str, WantPort] = {}
    routes: frozenset[tuple[str, str]] = frozenset()       # (destination, nexthop)
    nft_text: str = ""
    nft_signature: tuple[str, ...] = ()
    fips: frozenset[str] = frozenset()                      # floating addresses NATed


class ObsLink(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    mac: str = ""
    mtu: int = 0
    up: bool = False
    cidrs: frozenset[str] = frozenset()


class Seen(msgspec.Struct, frozen=True, kw_only=True):
    """What is really there for one router (namespace, links, OVS ports, routes, nft)."""

    router_id: str
    netns: str
    netns_exists: bool = False
    links: dict[str, ObsLink] = {}                          # in the router namespace
    in_host: frozenset[str] = frozenset()                   # our ports still in the host namespace
    ovs_ports: dict[str, str] = {}                          # name -> iface-id (ours, this router)
    routes: frozenset[tuple[str, str]] = frozenset()        # ours (proto ROUTE_PROTO)
    forwarding: bool = False
    nft_signature: tuple[str, ...] | None = None            # None: no table
    fips: frozenset[str] = frozenset()
