"""The L3 worker loop: KV watch -> work queue -> reconcile routers -> status events.

Level-triggered: a KV change only queues ``router:<id>``; reconciling a router reads
its intent and observes its namespace, OVS ports, routes and nft table, plans, and
applies. Start-up (after the watch replayed every current intent) and a periodic
resync queue every router known from intents *or* found on the host (namespaces
named like ours, OVS ports with our mark), so orphans are removed and tampering is
repaired. A failed router is retried with backoff; nothing triggers a full rebuild.
"""

from __future__ import annotations

import asyncio
import uuid

import msgspec
import structlog

from netledger.libs.worker_runtime import apply_entry, every
from netledger.libs.bus import Bus
from netledger.libs.events.envelope import utc_now, wrap
from netledger.libs.events.l3_intents import RouterIntent
from netledger.libs.events.l3_status import FloatingIpStatusReported, RouterStatusReported
from netledger.libs.events.status import AgentHeartbeat
from netledger.libs.events.subjects import host_token
from netledger.services.advanced.fw.status import FwStatusReporter
from netledger.services.l2.workqueue import WorkQueue, backoff

from .config import L3Config
from .driver_router import HostView, RouterDriver
from .plan import plan, want

log = structlog.get_logger("l3.worker")
BINARY = "netledger-l3-agent"
AGENT_TYPE = "L3 agent"
FULL = "@full"
_decode = msgspec.json.Decoder(RouterIntent).decode


def agent_id(host: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"netledger:{host}:{BINARY}"))


class L3Worker:
    def __init__(self, bus: Bus, bucket: str, cfg: L3Config, driver: RouterDriver | None = None) -> None:
        self.bus, self.bucket, self.cfg = bus, bucket, cfg
        self.driver = driver or RouterDriver(cfg)
        self.token = host_token(cfg.host)
        self.queue = WorkQueue()
        self.intents: dict[str, RouterIntent] = {}
        self.reported: dict[str, tuple] = {}          # router id -> (status, revision)
        self.fip_reported: dict[str, dict[str, str]] = {}   # router id -> fip id -> status
        self.replayed, self.synced = asyncio.Event(), asyncio.Event()
        self.startup_writes: int | None = None
        self.applied: dict[str, float] = {}           # router id -> loop time of last apply (bench)
        self.started_at = utc_now()
        self.log = log.bind(host=cfg.host)
        self.fw = FwStatusReporter(bus, cfg.host)      # FWaaS group reports (status stream)

    @property
    def writes(self) -> int:
        return self.driver.writes

    async def run(self, stop: asyncio.Event) -> None:
        kv = await self.bus.js.key_value(self.bucket)
        watcher = await kv.watch(f"{self.token}.router.>")
        tasks = [asyncio.create_task(c) for c in (
            self._watch(watcher), self._loop(), self._every(self.cfg.resync_interval, self._resync),
            self._every(self.cfg.heartbeat_interval, self._heartbeat))]
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await watcher.stop()
            self.log.info("l3 worker stopped", writes=self.writes)

    async def _watch(self, watcher) -> None:
        initial = True
        async for entry in watcher:
            if entry is None:
                initial = False
                self.queue.add(FULL)
                self.replayed.set()
                continue
            rid = apply_entry(self.intents, entry, _decode, self.log)
            if not initial:
                self.queue.add(f"router:{rid}")

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
            if FULL in keys:
                routers = set(self.intents) | host.routers(self.cfg)
            else:
                routers = {k.split(":", 1)[1] for k in keys}
            ok_all = True
            for rid in sorted(routers):
                ok_all &= await self._one(rid, host)
            self.queue.done(keys, ok=ok_all)
            if ok_all and FULL in keys and not self.synced.is_set():
                self.startup_writes = self.writes
                self.synced.set()
                self.log.info("initial sync done", writes=self.writes, routers=len(self.intents))

    async def _one(self, rid: str, host: HostView) -> bool:
        structlog.contextvars.bind_contextvars(key=rid)
        try:
            await self.reconcile(rid, host)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - retried with backoff, never crash
            self.log.warning("reconcile failed", router_id=rid, error=repr(exc),
                             retry_in=backoff(self.queue.failures(f"router:{rid}") + 1))
            self.queue.add_after(f"router:{rid}", backoff(self.queue.failures(f"router:{rid}") + 1))
            await self._report(rid, "ERROR", str(exc)[:200])
            await self.fw.report(rid, self.intents.get(rid), "ERROR")
            return False
        finally:
            structlog.contextvars.unbind_contextvars("key")

    async def reconcile(self, rid: str, host: HostView) -> None:
        intent = self.intents.get(rid)
        wanted = want(intent, self.cfg) if intent is not None and intent.admin_state_up else None
        seen = await self.driver.observe(rid, host)
        ops = plan(wanted, seen)
        if ops:
            self.log.info("plan", router_id=rid, n=len(ops), ops=[msgspec.to_builtins(o) for o in ops[:30]])
            await self.driver.apply(ops)
            self.applied[rid] = asyncio.get_running_loop().time()
        if intent is None:
            self.reported.pop(rid, None)
            await self._fips(rid, None)
            await self.fw.report(rid, None, "DOWN")
            return
        await self._report(rid, "ACTIVE" if wanted else "DOWN", "", intent.revision)
        await self._fips(rid, intent if wanted else None)
        await self.fw.report(rid, intent, "ACTIVE" if wanted else "DOWN")

    async def _report(self, rid: str, status: str, detail: str, revision: int = 0) -> None:
        if self.reported.get(rid) == (status, revision):
            return
        ev = RouterStatusReported(router_id=rid, host=self.cfg.host, status=status, revision=revision, detail=detail)
        await self.bus.publish(self.bus.subjects.status("router", rid), wrap(ev, kind="router", aggregate_id=rid))
        self.reported[rid] = (status, revision)

    async def _fips(self, rid: str, intent: RouterIntent | None) -> None:
        now = {f.floatingip_id: "ACTIVE" for f in intent.floating_ips} if intent and intent.gateway else {}
        before = self.fip_reported.get(rid, {})
        for fid in sorted(set(now) | set(before)):
            status = now.get(fid, "DOWN")
            if before.get(fid) != status:
                ev = FloatingIpStatusReported(floatingip_id=fid, host=self.cfg.host, status=status)
                await self.bus.publish(self.bus.subjects.status("floatingip", fid),
                                       wrap(ev, kind="floatingip", aggregate_id=fid))
        self.fip_reported[rid] = now

    async def _heartbeat(self) -> None:
        aid = agent_id(self.cfg.host)
        ev = AgentHeartbeat(agent_id=aid, host=self.cfg.host, agent_type=AGENT_TYPE, binary=BINARY,
                            backend="netns-nftables", started_at=self.started_at,
                            interval=self.cfg.heartbeat_interval)
        await self.bus.publish(self.bus.subjects.status("agent", aid), wrap(ev, kind="agent", aggregate_id=aid))
