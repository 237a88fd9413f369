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

import msgspec
import structlog

from netledger.libs.bus import Bus
from netledger.libs.events.envelope import utc_now, wrap
from netledger.libs.events.intents import L2Network, L2Port, SecurityGroupIntent, SgMembers
from netledger.libs.events.status import AgentHeartbeat, PortStatusReported
from netledger.libs.worker_runtime import FULL, IntentRuntime, agent_id as _agent_id
from netledger.libs.workqueue import backoff
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.desired import PortState, from_intents
from netledger.services.l2.mechanisms import Mechanism

log = structlog.get_logger("l2.worker")
BINARY = "netledger-l2-agent"
_DECODERS = {"port": msgspec.json.Decoder(L2Port), "net": msgspec.json.Decoder(L2Network),
             "sg": msgspec.json.Decoder(SecurityGroupIntent), "sgm": msgspec.json.Decoder(SgMembers)}


def _ms(a: float, b: float) -> int:
    return int((b - a) * 1000)


def agent_id(host: str) -> str:
    """Stable across restarts, like Neutron's (host, binary) agent identity."""
    return _agent_id(host, BINARY)


class L2Worker:
    def __init__(self, bus: Bus, bucket: str, cfg: AgentConfig, mech: Mechanism) -> None:
        self.bus, self.cfg, self.mech = bus, cfg, mech
        self.reported: dict[str, PortState] = {}
        self.batches = 0
        self.last_observed = None          # what the previous batch left (see observe)
        self.startup_writes: int | None = None
        self.log = log.bind(host=cfg.host, backend=mech.name)
        beat = AgentHeartbeat(agent_id=agent_id(cfg.host), host=cfg.host, agent_type=mech.agent_type,
                              binary=BINARY, backend=mech.name, tunnel_ip=cfg.tunnel_ip,
                              bridge_mappings=dict(cfg.bridge_mappings), network_types=cfg.network_types,
                              started_at=utc_now(), interval=cfg.heartbeat_interval)
        # The L2 plan covers the whole host: every kind of this host's keys, whole batches.
        self.rt = IntentRuntime(bus, bucket, host=cfg.host, kind="", worker=None, heartbeat=beat,
                                resync_interval=cfg.resync_interval, log=self.log,
                                absorb=self._absorb, batch=self._batch)
        self.rt.on_synced.append(lambda: setattr(self, "startup_writes", self.writes))
        self.rt.stats = lambda: {"writes": self.writes, "batches": self.batches}
        self.intents: dict[str, L2Port | L2Network] = self.rt.intents
        self.queue, self.replayed, self.synced = self.rt.queue, self.rt.replayed, self.rt.synced

    @property
    def writes(self) -> int:
        return self.mech.writes

    async def run(self, stop: asyncio.Event) -> None:
        await self.mech.start(lambda pid: self.queue.add(f"port:{pid}"))
        try:
            await self.rt.run(stop)
        finally:
            await self.mech.stop()
            self.log.info("l2 worker stopped", writes=self.writes, batches=self.batches)

    # --- inputs
    def _absorb(self, entry) -> str:
        """Cache one KV entry under its full key (kinds differ); the key is queued."""
        key, value, operation = entry.key, entry.value, entry.operation
        if operation in ("DEL", "PURGE") or not value:
            self.intents.pop(key, None)
            return key
        kind = key.split(".")[1] if key.count(".") >= 2 else ""
        try:
            self.intents[key] = _DECODERS[kind].decode(value)
        except (KeyError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            # A poison intent must not block the host: log it and treat it as absent.
            self.log.error("bad intent ignored", key=key, error=str(exc))
            self.intents.pop(key, None)
        return key

    # --- the loop (the runtime waits for the replay: at start-up OVS events arrive
    # before it ends, and planning then would unwire every port not yet replayed)
    async def _batch(self, keys: list[str]) -> None:
        """One host-wide reconcile for the batch: the plan has no per-key parts, so a
        failure retries exactly the keys of this batch (each on its own backoff)."""
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
            self.rt.set_synced()
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
