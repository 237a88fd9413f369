"""Reports of L3 workers (status stream): what a router namespace really carries."""

from __future__ import annotations

from .base import Event


class RouterStatusReported(Event, tag="RouterStatusReported", frozen=True, kw_only=True):
    """ACTIVE: the router's namespace, ports, routes and NAT table match its intent at
    ``revision`` on ``host``; DOWN: admin down or removed; ERROR: applying failed."""

    router_id: str
    host: str
    status: str
    revision: int = 0
    detail: str = ""


class FloatingIpStatusReported(Event, tag="FloatingIpStatusReported", frozen=True, kw_only=True):
    """ACTIVE once the address is on the gateway and its NAT rules are in place."""

    floatingip_id: str
    host: str
    status: str


EVENTS = (RouterStatusReported, FloatingIpStatusReported)
