"""The L2 worker loop: KV watch -> work queue -> reconcile batches -> status events.

Level-triggered: a KV change or an OVS interface event only queues a key. A batch
of ready keys is reconciled against ONE fresh observation of the host: desired (all
of this host's intents) x observed -> plan -> apply -> port statuses. Because the
plan is computed against what is really there, a restart with nothing changed plans
[] and writes nothing; keys replayed by the watch at start-up are coalesced into one
batch. A failed batch comes back with per-key exponential backoff; nothing ever
triggers a wholesale re-wire. A periodic full observe (no reuse of the last batch's flows) repairs tampering.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import msgspec
import structlog

from netledger.libs.bus import Bus
from netledger.libs.events.envelope import utc_now, wrap
from netledger.libs.events.intents import L2Network, L2Port, SecurityGroupIntent, SgMembers
from netledger.libs.events.status import AgentHeartbeat, PortStatusReported
from netledger.libs.events.subjects import host_token
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.desired import PortState, from_intents
from netledger.services.l2.mechanisms import Mechanism
from netledger.libs.workqueue import WorkQueue, backoff

log = structlog.get_logger("l2.worker")
BINARY = "netledger-l2-agent"
FULL = "@full"                     # queue key: "look at everything" (start-up, resync)
_DECODERS = {"port": msgspec.json.Decoder(L2Port), "net": msgspec.json.Decoder(L2Network),
             "sg": msgspec.json.Decoder(SecurityGroupIntent), "sgm": msgspec.json.Decoder(SgMembers)}


def _ms(a: float, b: float) -> int:
    return int((b - a) * 1000)


def agent_id(host: str) -> str:
    """Stable across restarts, like Neutron's (host, binary) agent identity."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"netledger:{host}:{BINARY}"))


class L2Worker:
    def __init__(self, bus: Bus, bucket: str, cfg: AgentConfig, mech: Mechanism) -> None:
        self.bus, self.bucket, self.cfg, self.mech = bus, bucket, cfg, mech
        self.token = host_token(cfg.host)
        self.queue = WorkQueue()
        self.intents: dict[str, L2Port | L2Network] = {}
        self.reported: dict[str, PortState] = {}
        self.replayed = asyncio.Event()    # the watch delivered every current intent
        self.synced = asyncio.Event()      # first full reconcile done
        self.batches = 0
        self.last_observed = None          # what the previous batch left (see observe)
        self.startup_writes: int | None = None
        self.started_at = utc_now()
        self.log = log.bind(host=cfg.host, backend=mech.name)

    @property
    def writes(self) -> int:
        return self.mech.writes

    async def run(self, stop: asyncio.Event) -> None:
        kv = await self.bus.js.key_value(self.bucket)
        await self.mech.start(lambda pid: self.queue.add(f"port:{pid}"))
        watcher = await kv.watch(f"{self.token}.>")
        tasks = [asyncio.create_task(c) for c in (self._watch(watcher), self._loop(),
                                                  self._every(self.cfg.resync_interval, self._resync),
                                                  self._every(self.cfg.heartbeat_interval, self._heartbeat))]
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            _, stuck = await asyncio.wait(tasks, timeout=10)
            if stuck:
                self.log.warning("tasks did not stop in time", n=len(stuck))
            await watcher.stop()
            await self.mech.stop()
            self.log.info("l2 worker stopped", writes=self.writes, batches=self.batches)

    # --- inputs
    async def _watch(self, watcher) -> None:
        initial = True
        async for entry in watcher:
            if entry is None:              # end of the replay of current values
                initial = False
                self.queue.add(FULL)
                self.replayed.set()
                continue
            self._absorb(entry.key, entry.value, entry.operation)
            if not initial:
                self.queue.add(entry.key)

    def _absorb(self, key: str, value: bytes | None, operation: str | None) -> None:
        if operation in ("DEL", "PURGE") or not value:
            self.intents.pop(key, None)
            return
        kind = key.split(".")[1] if key.count(".") >= 2 else ""
        try:
            self.intents[key] = _DECODERS[kind].decode(value)
        except (KeyError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            # A poison intent must not block the host: log it and treat it as absent.
            self.log.error("bad intent ignored", key=key, error=str(exc))
            self.intents.pop(key, None)

    async def _resync(self) -> None:
        if self.synced.is_set():
            self.queue.add(FULL)

    async def _every(self, interval: float, fn) -> None:
        while True:
            try:
                await fn()
            except Exception as exc:  # noqa: BLE001 - periodic jobs must never die
                self.log.warning("periodic job failed", job=fn.__name__, error=repr(exc)[:300])
            await asyncio.sleep(interval)

    # --- the loop
    async def _loop(self) -> None:
        # Never plan against a partial cache: at start-up OVS events arrive before the
        # replay ends, and planning then would unwire every port not yet replayed.
        await self.replayed.wait()
        while True:
            keys = await self.queue.get_batch()
            structlog.contextvars.bind_contextvars(key=keys[0] if len(keys) == 1 else f"{len(keys)} keys")
            try:
                await self.reconcile(full=FULL in keys)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retry with backoff, never crash
                self.last_observed = None      # what is really there is unknown now
                self.queue.done(keys, ok=False)
                self.log.warning("reconcile failed", keys=len(keys), error=repr(exc)[:300],
                                 retry_in=backoff(max(self.queue.failures(k) for k in keys)))
            else:
                self.queue.done(keys, ok=True)
                if not self.synced.is_set():
                    self.startup_writes = self.writes
                    self.synced.set()
                    self.log.info("initial sync done", writes=self.writes, intents=len(self.intents))
            finally:
                structlog.contextvars.unbind_contextvars("key")

    async def reconcile(self, full: bool = True) -> None:
        """``full``: observe everything afresh (start-up, periodic resync); otherwise the
        mechanism may reuse what the previous batch left where it can tell nothing changed."""
        t0 = time.perf_counter()
        desired = from_intents(self.intents)
        self.last_observed = None if full else self.last_observed
        observed = await self.mech.observe(self.last_observed)
        t1 = time.perf_counter()
        ops = self.mech.plan(desired, observed)
        t2 = time.perf_counter()
        self.batches += 1
        if ops:
            self.log.info("plan", n=len(ops), ops=[msgspec.to_builtins(o) for o in ops[:20]])
            await self.mech.apply(ops)
            observed = self.mech.after(observed, ops)
        self.last_observed = observed
        t3 = time.perf_counter()
        reported = await self._report(self.mech.port_states(desired, observed))
        if ops or reported:
            self.log.info("reconciled", ops=len(ops), reported=reported, observe_ms=_ms(t0, t1),
                          plan_ms=_ms(t1, t2), apply_ms=_ms(t2, t3), report_ms=_ms(t3, time.perf_counter()),
                          writes=self.writes)

    async def _report(self, states: dict[str, PortState]) -> int:
        for gone in set(self.reported) - set(states):
            del self.reported[gone]
        changed = {p: s for p, s in states.items() if self.reported.get(p) != s}
        sem = asyncio.Semaphore(64)

        async def one(pid: str, st: PortState) -> None:
            async with sem:
                await self._publish_status(pid, st)
            self.reported[pid] = st
        await asyncio.gather(*(one(p, s) for p, s in sorted(changed.items())))
        return len(changed)

    async def _publish_status(self, port_id: str, st: PortState) -> None:
        ev = PortStatusReported(port_id=port_id, host=self.cfg.host, status=st.status, block="l2",
                                revision_number=st.revision_number, detail=st.detail)
        env = wrap(ev, kind="port", aggregate_id=port_id)
        await self.bus.publish(self.bus.subjects.status("port", port_id), env)

    async def _heartbeat(self) -> None:
        aid = agent_id(self.cfg.host)
        ev = AgentHeartbeat(agent_id=aid, host=self.cfg.host, agent_type=self.mech.agent_type,
                            binary=BINARY, backend=self.mech.name, tunnel_ip=self.cfg.tunnel_ip,
                            bridge_mappings=dict(self.cfg.bridge_mappings),
                            network_types=self.cfg.network_types, started_at=self.started_at,
                            interval=self.cfg.heartbeat_interval)
        await self.bus.publish(self.bus.subjects.status("agent", aid), wrap(ev, kind="agent", aggregate_id=aid))
