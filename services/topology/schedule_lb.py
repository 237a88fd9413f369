"""Topology's LB hooks: scheduling load balancers onto live LB workers and publishing
their intents (bucket NL_LB), after each commit and on a 1 s tick (a dead worker is
noticed by a stale heartbeat, not by an event).

Scheduling reuses the pure router policy (services/l3/scheduler.py): stay on a live
worker, else the least-loaded live one. ``LoadBalancerScheduled`` expects the LB
subject's last sequence and the VIP port re-binding expects the port's, so a
concurrent API write makes the publish fail and the next tick decides again.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import msgspec
import structlog

from netledger.deploy.streams import kv_buckets
from netledger.libs.bus import PublishError
from netledger.libs.events.envelope import wrap
from netledger.libs.events.octavia import LB_BUCKET, LoadBalancerScheduled
from netledger.libs.events.port import PortUpdated
from netledger.services.api.deciders.binding import bind
from netledger.services.l3 import scheduler

from .compile_lb import LbInputs, compile_lb
from .evolve.octavia import decode_state
from .schedule_l3 import TICK_S, _Agents, _alive
from .publish import publish_owner

log = structlog.get_logger("topology.lb")
LB_AGENT = "Loadbalancer agent"
_dec = msgspec.json.decode


def lb_bucket(prefix: str) -> str:
    return next(b for b in kv_buckets(prefix) if b.endswith(LB_BUCKET))


class LbHooks:
    def __init__(self, bus, conn) -> None:
        from netledger import config as config_mod

        self.bus, self.conn = bus, conn
        self.down_after = config_mod.load().agent_down_time
        self.kv = None
        self.published: dict[str, dict[str, bytes]] = {}
        self.high_water = 0
        self.lock: asyncio.Lock | None = None
        self.task: asyncio.Task | None = None

    async def start(self, lock: asyncio.Lock) -> None:
        self.lock = lock
        self.kv = await self.bus.js.key_value(lb_bucket(self.bus.subjects.prefix))
        try:
            keys = await self.kv.keys()
        except Exception:  # noqa: BLE001 - an empty bucket has no keys
            keys = []
        for key in keys:   # adopt what is there: a restart rewrites only real differences
            lb_id = key.rsplit(".", 1)[-1]
            self.published.setdefault(lb_id, {})[key] = (await self.kv.get(key)).value
        await self.sync(set(self.published) | self._ids())
        self.task = asyncio.create_task(self._ticker())

    def _ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT id FROM loadbalancers")}

    async def after_commit(self) -> None:
        await self.sync(self.touched())
        await self.schedule()

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                async with self.lock:
                    await self.schedule()
            except Exception as exc:  # noqa: BLE001 - the next tick tries again
                log.warning("lb schedule tick failed", error=repr(exc))

    def touched(self) -> set[str]:
        """LBs whose rows or VIP ports moved since the last sync, and LBs gone."""
        q, hw = self.conn.execute, self.high_water
        out = {r[0] for r in q("SELECT id FROM loadbalancers WHERE seq > ?", [hw])}
        out |= {r[0] for r in q("SELECT l.id FROM loadbalancers l JOIN ports p ON p.id = l.vip_port_id "
                                "WHERE p.seq > ?", [hw])}
        return out | (set(self.published) - self._ids())

    def _inputs(self, lb_id: str) -> LbInputs | None:
        row = self.conn.execute("SELECT state, vip_port_id FROM loadbalancers WHERE id = ?", [lb_id]).fetchone()
        if row is None:
            return None
        port = self.conn.execute("SELECT body FROM ports WHERE id = ?", [row[1]]).fetchone()
        port = _dec(port[0]) if port else None
        sub, mtu = None, 1450
        if port and port.get("fixed_ips"):
            srow = self.conn.execute("SELECT body FROM subnets WHERE id = ?",
                                     [port["fixed_ips"][0]["subnet_id"]]).fetchone()
            sub = _dec(srow[0]) if srow else None
            nrow = self.conn.execute("SELECT body FROM networks WHERE id = ?", [port["network_id"]]).fetchone()
            mtu = _dec(nrow[0]).get("mtu", 1450) if nrow else 1450
        return LbInputs(state=decode_state(row[0]), vip_port=port, vip_subnet=sub, mtu=mtu)

    async def sync(self, lbs: set[str]) -> None:
        top = self.conn.execute("SELECT max(seq) FROM checkpoint WHERE stream = 'events'").fetchone()[0] or 0
        for lb_id in sorted(lbs):
            puts, deletes = await publish_owner(self.kv, self.published, lb_id, compile_lb(self._inputs(lb_id)))
            if puts or deletes:
                log.info("lb intent published", lb_id=lb_id, puts=sorted(puts), deletes=deletes)
        self.high_water = max(self.high_water, top)

    async def schedule(self) -> None:
        now = datetime.now(timezone.utc)
        q = self.conn.execute
        agents = [scheduler.L3Agent(agent_id=r[0], host=r[1], alive=_alive(r[2], self.down_after, now))
                  for r in q("SELECT id, host, last_heartbeat FROM agents WHERE agent_type = ?", [LB_AGENT])]
        lbs = [scheduler.Placement(router_id=r[0], host=r[1]) for r in q("SELECT id, host FROM loadbalancers")]
        for move in scheduler.schedule(lbs, agents):
            seq = q("SELECT seq FROM loadbalancers WHERE id = ?", [move.router_id]).fetchone()[0]
            ev = LoadBalancerScheduled(lb_id=move.router_id, host=move.host, previous_host=move.previous_host)
            await self._publish("loadbalancer", move.router_id, ev, seq)
        await self._rebind(now)

    async def _rebind(self, now: datetime) -> None:
        """The VIP port is bound to the LB's host, so that host's L2 worker wires it."""
        rows = self.conn.execute(
            "SELECT p.id, l.host, p.seq, p.network_id FROM loadbalancers l JOIN ports p ON p.id = l.vip_port_id "
            "WHERE l.host != '' AND p.host != l.host").fetchall()
        if not rows:
            return
        agents = _Agents(self.conn.execute("SELECT host, last_heartbeat, body FROM agents").fetchall(),
                         self.down_after, now)
        for port_id, host, seq, net_id in rows:
            net = _dec(self.conn.execute("SELECT body FROM networks_v WHERE id = ?", [net_id]).fetchone()[0])
            vif_type, details = bind(host, net, agents.live_on(host))
            ev = PortUpdated(port_id=port_id, binding_host_id=host, binding_vif_type=vif_type,
                             binding_vif_details=details)
            await self._publish("port", port_id, ev, seq)

    async def _publish(self, kind: str, agg: str, ev, seq: int) -> None:
        try:
            await self.bus.publish(self.bus.subjects.aggregate(kind, agg), wrap(ev, kind=kind, aggregate_id=agg),
                                   expect_seq=seq)
            log.info("lb scheduling", kind=type(ev).__name__, id=agg)
        except PublishError as exc:  # lost a race: the next tick decides again
            log.info("lb scheduling deferred", id=agg, reason=str(exc))
