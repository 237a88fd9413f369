"""Router scheduling (pure): which live L3 worker hosts each router.

Who decides: topology's after-commit hook (plus a 1 s tick) in the one topology that
publishes intents. It reads the projection, calls these functions and publishes
``RouterScheduled`` expecting the router subject's last sequence, and ``PortUpdated``
re-binding the router's ports, expecting each port's sequence. A concurrent API write
makes the publish fail and the next tick decides again on the new state; two
schedulers cannot both move a router. The API never schedules (one place decides).

Policy: a router stays where it is while its worker is alive (no churn); a router
with no host, or on a dead worker while another is alive, goes to the live worker
with the fewest routers (ties: host name). With no live worker at all, routers stay
put: there is nowhere better to go.
"""

from __future__ import annotations

from netledger.libs.events.base import Struct


class L3Agent(Struct, frozen=True, kw_only=True):
    agent_id: str
    host: str
    alive: bool


class Placement(Struct, frozen=True, kw_only=True):
    router_id: str
    host: str = ""


class Move(Struct, frozen=True, kw_only=True):
    router_id: str
    host: str
    agent_id: str
    previous_host: str = ""


def schedule(routers: list[Placement], agents: list[L3Agent]) -> list[Move]:
    """Moves needed, in router id order; [] when every router sits on a live worker."""
    live = {a.host: a for a in agents if a.alive}
    if not live:
        return []
    load = {h: 0 for h in live}
    for r in routers:
        if r.host in load:
            load[r.host] += 1
    moves = []
    for r in sorted(routers, key=lambda x: x.router_id):
        if r.host in live:
            continue
        host = min(load, key=lambda h: (load[h], h))
        load[host] += 1
        moves.append(Move(router_id=r.router_id, host=host, agent_id=live[host].agent_id, previous_host=r.host))
    return moves


class RouterPort(Struct, frozen=True, kw_only=True):
    port_id: str
    router_host: str
    bound_host: str


def rebind(ports: list[RouterPort]) -> list[RouterPort]:
    """Router ports whose binding is not the router's host (the L2 worker of the
    router's host must wire them there); ports of unscheduled routers stay."""
    return [p for p in sorted(ports, key=lambda x: x.port_id) if p.router_host and p.bound_host != p.router_host]
