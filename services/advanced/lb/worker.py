"""The LB worker loop: KV watch -> work queue -> reconcile LBs -> status events.

Level-triggered like the L3 worker: a KV change only queues ``lb:<id>``; reconciling
observes the namespace, VIP port, config on disk and HAProxy process, plans and
applies. Start-up (after the watch replayed every intent) and a periodic resync
queue every LB known from intents *or* found on the host, so orphans are removed.
A separate loop reads ``show stat`` of every running HAProxy and reports operating
statuses when they change; provisioning ACTIVE is reported with the revision applied.
"""

from __future__ import annotations

import asyncio
import uuid

import msgspec
import structlog

from netledger.libs.worker_runtime import apply_entry, every
from netledger.libs.bus import Bus
from netledger.libs.events.envelope import utc_now, wrap
from netledger.libs.events.octavia import LbIntent, LoadBalancerStatusReported
from netledger.libs.events.status import AgentHeartbeat
from netledger.libs.events.subjects import host_token
from netledger.services.l2.workqueue import WorkQueue, backoff

from . import health
from .config import LbConfig
from .driver_lb import HostView, LbDriver
from .plan import plan, should_run

log = structlog.get_logger("lb.worker")
BINARY = "netledger-lb-agent"
AGENT_TYPE = "Loadbalancer agent"
FULL = "@full"
_decode = msgspec.json.Decoder(LbIntent).decode


def agent_id(host: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"netledger:{host}:{BINARY}"))


class LbWorker:
    def __init__(self, bus: Bus, bucket: str, cfg: LbConfig, driver: LbDriver | None = None) -> None:
        self.bus, self.bucket, self.cfg = bus, bucket, cfg
        self.driver = driver or LbDriver(cfg)
        self.token = host_token(cfg.host)
        self.queue = WorkQueue()
        self.intents: dict[str, LbIntent] = {}
        self.applied: dict[str, tuple[int, str]] = {}          # lb id -> (revision, provisioning)
        self.reported: dict[str, tuple] = {}
        self.replayed, self.synced = asyncio.Event(), asyncio.Event()
        self.applied_at: dict[str, float] = {}                # lb id -> loop time of last apply (bench)
        self.started_at = utc_now()
        self.log = log.bind(host=cfg.host)

    async def run(self, stop: asyncio.Event) -> None:
        kv = await self.bus.js.key_value(self.bucket)
        watcher = await kv.watch(f"{self.token}.lb.>")
        tasks = [asyncio.create_task(c) for c in (
            self._watch(watcher), self._loop(), self._every(self.cfg.resync_interval, self._resync),
            self._every(self.cfg.heartbeat_interval, self._heartbeat),
            self._every(self.cfg.stats_interval, self._stats))]
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await watcher.stop()
            self.log.info("lb worker stopped", writes=self.driver.writes)

    async def _watch(self, watcher) -> None:
        initial = True
        async for entry in watcher:
            if entry is None:
                initial = False
                self.queue.add(FULL)
                self.replayed.set()
                continue
            lb_id = apply_entry(self.intents, entry, _decode, self.log)
            if not initial:
                self.queue.add(f"lb:{lb_id}")

    async def _resync(self) -> None:
        if self.synced.is_set():
            self.queue.add(FULL)

    async def _every(self, interval: float, fn) -> None:
        await every(interval, fn, self.log)

    async def _loop(self) -> None:
        await self.replayed.wait()      # never plan against a partial set of intents
        while True:
            keys = await self.queue.get_batch()
            try:
                host = await self.driver.host_view()
            except Exception as exc:  # noqa: BLE001
                self.queue.done(keys, ok=False)
                self.log.warning("observe failed", error=repr(exc))
                continue
            lbs = set(self.intents) | host.lbs(self.cfg) if FULL in keys else {k.split(":", 1)[1] for k in keys}
            ok_all = True
            for lb_id in sorted(lbs):
                ok_all &= await self._one(lb_id, host)
            self.queue.done(keys, ok=ok_all)
            if ok_all and FULL in keys and not self.synced.is_set():
                self.synced.set()
                self.log.info("initial sync done", writes=self.driver.writes, lbs=len(self.intents))

    async def _one(self, lb_id: str, host: HostView) -> bool:
        structlog.contextvars.bind_contextvars(key=lb_id)
        try:
            await self.reconcile(lb_id, host)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - retried with backoff, never crash
            fails = self.queue.failures(f"lb:{lb_id}") + 1
            self.log.warning("reconcile failed", lb_id=lb_id, error=repr(exc), retry_in=backoff(fails))
            self.queue.add_after(f"lb:{lb_id}", backoff(fails))
            intent = self.intents.get(lb_id)
            if intent is not None:
                self.applied[lb_id] = (intent.revision, "ERROR")
                await self._report(intent, str(exc)[:300])
            return False
        finally:
            structlog.contextvars.unbind_contextvars("key")

    async def reconcile(self, lb_id: str, host: HostView) -> None:
        intent = self.intents.get(lb_id)
        seen = await self.driver.observe(lb_id, host)
        ops = plan(intent, seen, self.cfg)
        if ops:
            self.log.info("plan", lb_id=lb_id, rev=intent.revision if intent else None,
                          ops=[type(o).__name__ for o in ops])
            await self.driver.apply(ops)
            self.applied_at[lb_id] = asyncio.get_running_loop().time()
        if intent is None:
            self.applied.pop(lb_id, None)
            self.reported.pop(lb_id, None)
            return
        self.applied[lb_id] = (intent.revision, "ACTIVE")
        await self._report(intent)

    async def _stats(self) -> None:
        for lb_id, intent in list(self.intents.items()):
            if lb_id in self.applied:
                await self._report(intent)

    async def _report(self, intent: LbIntent, detail: str = "") -> None:
        """Publish when the applied revision or any operating status changed."""
        revision, prov = self.applied.get(intent.lb_id, (0, ""))
        if revision != intent.revision:
            return      # a newer intent is queued: report once it is applied
        stats = health.parse_stat(await self.driver.show_stat(intent.lb_id)) if should_run(intent) else {}
        operating = health.operating(intent, stats)
        key = (revision, prov, operating)
        if self.reported.get(intent.lb_id) == key:
            return
        ev = LoadBalancerStatusReported(lb_id=intent.lb_id, host=self.cfg.host, revision=revision,
                                        provisioning=prov, operating=operating, detail=detail)
        await self.bus.publish(self.bus.subjects.status("loadbalancer", intent.lb_id),
                               wrap(ev, kind="loadbalancer", aggregate_id=intent.lb_id))
        self.reported[intent.lb_id] = key

    async def _heartbeat(self) -> None:
        aid = agent_id(self.cfg.host)
        ev = AgentHeartbeat(agent_id=aid, host=self.cfg.host, agent_type=AGENT_TYPE, binary=BINARY,
                            backend="haproxy", started_at=self.started_at, interval=self.cfg.heartbeat_interval)
        await self.bus.publish(self.bus.subjects.status("agent", aid), wrap(ev, kind="agent", aggregate_id=aid))
