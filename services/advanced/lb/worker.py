"""The LB worker: its desired state (LbIntent), its observation, its pure planner and
its driver, run by the shared intent runtime (libs/worker_runtime).

Level-triggered like the L3 worker: a KV change only queues ``lb:<id>``; reconciling
observes the namespace, VIP port, config on disk and HAProxy process, plans and
applies. The periodic ``@full`` key covers every LB known from intents *or* found on
the host, so orphans are removed. One more periodic job reads ``show stat`` of every
running HAProxy and reports operating statuses when they change; provisioning ACTIVE
is reported with the revision applied. A failed LB retries alone, with backoff.
"""

from __future__ import annotations

import asyncio

import structlog

from netledger.libs.bus import Bus
from netledger.libs.events.envelope import wrap
from netledger.libs.events.octavia import LbIntent, LoadBalancerStatusReported
from netledger.libs.worker_runtime import IntentRuntime, Job, Identity

from . import health
from .config import LbConfig
from .driver_haproxy import HostView, HaproxyDriver
from .plan import plan, should_run

log = structlog.get_logger("lb.worker")
BINARY = "netledger-lb-agent"
AGENT_TYPE = "Loadbalancer agent"
IDENTITY = Identity(binary=BINARY, agent_type=AGENT_TYPE, backend="haproxy")
agent_id = IDENTITY.agent_id


class LbWorker:
    def __init__(self, bus: Bus, bucket: str, cfg: LbConfig, driver: HaproxyDriver | None = None) -> None:
        self.bus, self.cfg = bus, cfg
        self.driver = driver or HaproxyDriver(cfg)
        self.applied: dict[str, tuple[int, str]] = {}          # lb id -> (revision, provisioning)
        self.reported: dict[str, tuple] = {}
        self.applied_at: dict[str, float] = {}                # lb id -> loop time of last apply (bench)
        self.log = log.bind(host=cfg.host)
        self.rt = IntentRuntime.of(self, bus, bucket, cfg, kind="lb", intent=LbIntent, who=IDENTITY,
                                   jobs=(Job(cfg.stats_interval, self._stats),), log=self.log)
        self.rt.stats = lambda: {"writes": self.driver.writes}
        self.intents, self.queue, self.replayed, self.synced = (
            self.rt.intents, self.rt.queue, self.rt.replayed, self.rt.synced)

    async def run(self, stop: asyncio.Event) -> None:
        await self.rt.run(stop)

    # --- the Reconciler protocol
    async def host_view(self) -> HostView:
        return await self.driver.host_view()

    async def present(self, host: HostView) -> set[str]:
        return host.lbs(self.cfg)

    async def failed(self, lb_id: str, exc: Exception) -> None:
        intent = self.intents.get(lb_id)
        if intent is not None:
            self.applied[lb_id] = (intent.revision, "ERROR")
            await self._report(intent, str(exc)[:300])

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
