"""Topology's L3 hooks: router scheduling (I/O around services/l3/scheduler.py) and
publication of L3 intents after each commit, plus a periodic tick, because a worker
dying is noticed by the absence of events (a stale heartbeat), not by an event.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import msgspec
import structlog

from netledger import config as config_mod
from netledger.libs.bus import PublishError
from netledger.libs.events.envelope import wrap
from netledger.libs.events.port import PortUpdated
from netledger.libs.events.router import RouterScheduled
from netledger.services.api.deciders.binding import bind
from netledger.services.l3 import scheduler

from .intents_l3 import L3IntentPublisher

log = structlog.get_logger("topology.l3")
L3_AGENT = "L3 agent"
TICK_S = 1.0


def _alive(last: str, down_after: float, now: datetime) -> bool:
    seen = datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return now - seen <= timedelta(seconds=down_after)


class _Agents:
    """The agents table at one "now": ``live_on(host)`` is what ``bind`` takes."""

    def __init__(self, rows, down_after: float, now: datetime) -> None:
        self.rows, self.down_after, self.now = rows, down_after, now

    def live_on(self, host: str) -> list[dict]:
        return [msgspec.json.decode(r[2]) for r in self.rows
                if r[0] == host and _alive(r[1], self.down_after, self.now)]


class L3Hooks:
    def __init__(self, bus, conn) -> None:
        self.bus, self.conn = bus, conn
        self.down_after = config_mod.load().agent_down_time
        self.intents = L3IntentPublisher(bus, conn)
        self.task: asyncio.Task | None = None
        self.lock: asyncio.Lock | None = None

    async def start(self, lock: asyncio.Lock) -> None:
        self.lock = lock
        await self.intents.start()
        self.task = asyncio.create_task(self._ticker())

    async def after_commit(self, touched_networks: set[str]) -> None:
        await self.intents.sync(self.intents.touched(touched_networks))
        await self.schedule()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                async with self.lock:
                    await self.schedule()
            except Exception as exc:  # noqa: BLE001 - the next tick tries again
                log.warning("l3 schedule tick failed", error=repr(exc))

    async def schedule(self) -> None:
        now = datetime.now(timezone.utc)
        q = self.conn.execute
        agents = [scheduler.L3Agent(agent_id=r[0], host=r[1], alive=_alive(r[2], self.down_after, now))
                  for r in q("SELECT id, host, last_heartbeat FROM agents WHERE agent_type = ?", [L3_AGENT])]
        routers = [scheduler.Placement(router_id=r[0], host=r[1]) for r in q("SELECT id, host FROM routers")]
        for move in scheduler.schedule(routers, agents):
            seq = q("SELECT seq FROM routers WHERE id = ?", [move.router_id]).fetchone()[0]
            ev = RouterScheduled(router_id=move.router_id, host=move.host, agent_id=move.agent_id,
                                 previous_host=move.previous_host)
            await self._publish(self.bus.subjects.aggregate("router", move.router_id), "router", move.router_id,
                                ev, seq)
        await self._rebind(now)

    async def _rebind(self, now: datetime) -> None:
        # Driven from routers through the device_id index: scanning every port's JSON
        # after each folded batch was a quarter of the topology's CPU at 3,000 ports.
        rows = self.conn.execute(
            "SELECT p.id, r.host, p.host, p.seq, p.network_id FROM routers r CROSS JOIN ports p "
            "ON p.device_id = r.id WHERE p.host != r.host AND json_extract(p.body, '$.device_owner') IN "
            "('network:router_interface', 'network:router_gateway')").fetchall()
        wanted = scheduler.rebind([scheduler.RouterPort(port_id=r[0], router_host=r[1], bound_host=r[2]) for r in rows])
        if not wanted:
            return
        agents = _Agents(self.conn.execute("SELECT host, last_heartbeat, body FROM agents").fetchall(),
                         self.down_after, now)
        info = {r[0]: r for r in rows}
        for port in wanted:
            _, host, _, seq, net_id = info[port.port_id]
            net = msgspec.json.decode(self.conn.execute("SELECT body FROM networks_v WHERE id = ?",
                                                        [net_id]).fetchone()[0])
            vif_type, details = bind(host, net, agents.live_on(host))
            ev = PortUpdated(port_id=port.port_id, binding_host_id=host, binding_vif_type=vif_type,
                             binding_vif_details=details)
            await self._publish(self.bus.subjects.aggregate("port", port.port_id), "port", port.port_id, ev, seq)

    async def _publish(self, subject: str, kind: str, agg: str, ev, seq: int) -> None:
        try:
            await self.bus.publish(subject, wrap(ev, kind=kind, aggregate_id=agg, actor=None), expect_seq=seq)
            log.info("l3 scheduling", kind=type(ev).__name__, id=agg, host=getattr(ev, "host", "")
                     or getattr(ev, "binding_host_id", ""))
        except PublishError as exc:  # lost a race with the API or another scheduler: next round
            log.info("l3 scheduling deferred", id=agg, reason=str(exc))
