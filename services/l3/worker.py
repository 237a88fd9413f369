"""The L3 worker: its desired state (RouterIntent), its observation (HostView), its
pure planner and its driver, run by the shared intent runtime (libs/worker_runtime).

Level-triggered: a KV change only queues ``router:<id>``; reconciling a router reads
its intent and observes its namespace, OVS ports, routes and nft table, plans, and
applies. The periodic ``@full`` key covers every router known from intents *or* found
on the host (namespaces named like ours, OVS ports with our mark), so orphans are
removed and tampering is repaired. A failed router is retried with backoff on its own.
"""

from __future__ import annotations

import asyncio

import msgspec
import structlog

from netledger.libs.bus import Bus
from netledger.libs.events.envelope import wrap
from netledger.libs.events.l3_intents import RouterIntent
from netledger.libs.events.l3_status import FloatingIpStatusReported, RouterStatusReported
from netledger.libs.worker_runtime import IntentRuntime, Identity
from netledger.services.advanced.fw.status import FwStatusReporter

from .config import L3Config
from .driver_router import HostView, RouterDriver
from .plan import plan, want

log = structlog.get_logger("l3.worker")
BINARY = "netledger-l3-agent"
AGENT_TYPE = "L3 agent"
IDENTITY = Identity(binary=BINARY, agent_type=AGENT_TYPE, backend="netns-nftables")
agent_id = IDENTITY.agent_id


class L3Worker:
    def __init__(self, bus: Bus, bucket: str, cfg: L3Config, driver: RouterDriver | None = None) -> None:
        self.bus, self.cfg = bus, cfg
        self.driver = driver or RouterDriver(cfg)
        self.reported: dict[str, tuple] = {}          # router id -> (status, revision)
        self.fip_reported: dict[str, dict[str, str]] = {}   # router id -> fip id -> status
        self.startup_writes: int | None = None
        self.applied: dict[str, float] = {}           # router id -> loop time of last apply (bench)
        self.log = log.bind(host=cfg.host)
        self.fw = FwStatusReporter(bus, cfg.host)      # FWaaS group reports (status stream)
        self.rt = IntentRuntime.of(self, bus, bucket, cfg, kind="router", intent=RouterIntent, who=IDENTITY, log=self.log)
        self.rt.on_synced.append(lambda: setattr(self, "startup_writes", self.writes))
        self.rt.stats = lambda: {"writes": self.writes}
        self.intents, self.queue, self.replayed, self.synced = (
            self.rt.intents, self.rt.queue, self.rt.replayed, self.rt.synced)

    @property
    def writes(self) -> int:
        return self.driver.writes

    async def run(self, stop: asyncio.Event) -> None:
        await self.rt.run(stop)

    # --- the Reconciler protocol
    async def host_view(self) -> HostView:
        return await self.driver.host_view()

    async def present(self, host: HostView) -> set[str]:
        return host.routers(self.cfg)

    async def failed(self, rid: str, exc: Exception) -> None:
        await self._report(rid, "ERROR", str(exc)[:200])
        await self.fw.report(rid, self.intents.get(rid), "ERROR")

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
