"""The one loop every intent-driven host worker (L3, DHCP, LB, VPN) runs.

watch ``<host>.<kind>.>`` in the worker's KV bucket (replay of current values, then
changes) -> stingy work queue (a key queued twice runs once) -> per-key
``reconcile(id, host)`` -> the worker reports status itself; a heartbeat every
``heartbeat_interval``; a periodic drift check is one more key, ``@full``, which
expands to every id known from intents *or* found on the host (so orphans go).

Failure accounting is per key, never per batch: a reconcile that raises backs off
that id alone (its own failure count, its own retry), the rest of its batch counts as
done, and ``@full`` stays on its schedule. Only a failed host observation (nothing of
the batch could run) backs off the whole batch.

``synced`` is set once the first ``@full`` ran and every id it covered has since
reconciled without error; planning never starts before the watch replayed (a partial
intent cache would tear down what is merely not replayed yet).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Awaitable, Callable, Protocol

import msgspec
import structlog

from netledger.libs.bus import Bus
from netledger.libs.events.envelope import utc_now, wrap
from netledger.libs.events.status import AgentHeartbeat
from netledger.libs.events.subjects import host_token
from netledger.libs.workqueue import WorkQueue, backoff

FULL = "@full"              # queue key: "look at everything" (start-up, periodic check)


def agent_id(host: str, binary: str) -> str:
    """Stable per (host, binary), like Neutron's agent identity: a restarted agent keeps
    its row in GET /v2.0/agents."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"netledger:{host}:{binary}"))


class Reconciler(Protocol):
    """What a worker brings: its observation, its per-id reconcile, its error report."""

    async def host_view(self) -> Any:
        """One observation of the host shared by a batch (None if the worker has none)."""

    async def present(self, host: Any) -> set[str]:
        """Ids of ours found on the host (the ``@full`` key also covers them)."""

    async def reconcile(self, oid: str, host: Any) -> None:
        """observe -> plan -> apply -> report for one id; raises on failure."""

    async def failed(self, oid: str, exc: Exception) -> None:
        """Report the id's failure (status ERROR); must not raise."""


async def every(interval: float, fn: Callable[[], Awaitable[None]], log) -> None:
    """Run ``fn`` forever, ``interval`` seconds apart; a failure is logged, never fatal."""
    while True:
        try:
            await fn()
        except Exception as exc:  # noqa: BLE001 - periodic jobs must never die
            log.warning("periodic job failed", job=getattr(fn, "__name__", "?"), error=repr(exc)[:300])
        await asyncio.sleep(interval)


def apply_entry(intents: dict[str, Any], entry, decode: Callable[[bytes], Any], log) -> str:
    """Update the cache from one KV entry (deleted/purged/empty = gone; undecodable =
    ignored and dropped, logging the key only: values may hold secrets). Returns the id."""
    oid = entry.key.rsplit(".", 1)[-1]
    if entry.operation in ("DEL", "PURGE") or not entry.value:
        intents.pop(oid, None)
        return oid
    try:
        intents[oid] = decode(entry.value)
    except (msgspec.DecodeError, msgspec.ValidationError):
        log.error("bad intent ignored", key=entry.key)
        intents.pop(oid, None)
    return oid


class Identity(msgspec.Struct, frozen=True, kw_only=True):
    """What an agent is in GET /v2.0/agents: its binary, agent type and backend."""

    binary: str
    agent_type: str
    backend: str

    def agent_id(self, host: str) -> str:
        return agent_id(host, self.binary)

    def heartbeat(self, host: str, interval: float, **extra: Any) -> AgentHeartbeat:
        return AgentHeartbeat(agent_id=self.agent_id(host), host=host, agent_type=self.agent_type,
                              binary=self.binary, backend=self.backend, started_at=utc_now(),
                              interval=interval, **extra)


class Job(msgspec.Struct, frozen=True):
    """An extra periodic job of a worker (status polls): run every ``interval`` s."""

    interval: float
    fn: Callable[[], Awaitable[None]]


class IntentRuntime:
    """Runs one worker: ``kind`` is the KV key kind (``router``, ``lb``, ``net``).

    A worker whose plan covers the whole host (L2) instead watches every kind of its
    host (``kind=""``), keeps its own cache (``absorb(entry) -> queue key``) and
    reconciles whole batches (``batch(keys)``); watch, queue, periodic check,
    heartbeat and stop are the same."""

    def __init__(self, bus: Bus, bucket: str, *, host: str, kind: str, worker: Reconciler | None,
                 heartbeat: AgentHeartbeat, resync_interval: float, decode: Callable[[bytes], Any] | None = None,
                 jobs: tuple[Job, ...] = (), log=None, absorb: Callable[[Any], str] | None = None,
                 batch: Callable[[list[str]], Awaitable[None]] | None = None) -> None:
        self.bus, self.bucket, self.kind, self.decode = bus, bucket, kind, decode
        self.worker, self.beat, self.resync_interval, self.jobs = worker, heartbeat, resync_interval, jobs
        self.pattern = f"{host_token(host)}.{kind}.>" if kind else f"{host_token(host)}.>"
        self.absorb = absorb or (lambda e: self.key(apply_entry(self.intents, e, self.decode, self.log)))
        self.batch = batch or self.run_batch
        self.queue = WorkQueue()
        self.intents: dict[str, Any] = {}
        self.replayed, self.synced = asyncio.Event(), asyncio.Event()
        self.on_synced: list[Callable[[], None]] = []
        # Figures for the "initial sync done" / "worker stopped" lines (bench and chaos
        # tests read the dataplane write count from them).
        self.stats: Callable[[], dict[str, Any]] = lambda: {}
        self._unsynced: set[str] | None = None      # ids of the first @full still failing
        self.log = log or structlog.get_logger("worker")

    @classmethod
    def of(cls, worker: Reconciler, bus: Bus, bucket: str, cfg: Any, *, kind: str, intent: type,
           who: Identity, jobs: tuple[Job, ...] = (), log=None) -> "IntentRuntime":
        """The runtime of a per-id worker from its config (``host`` and the intervals)."""
        return cls(bus, bucket, host=cfg.host, kind=kind, worker=worker, decode=msgspec.json.Decoder(intent).decode,
                   heartbeat=who.heartbeat(cfg.host, cfg.heartbeat_interval),
                   resync_interval=cfg.resync_interval, jobs=jobs, log=log)

    def key(self, oid: str) -> str:
        return f"{self.kind}:{oid}"

    async def run(self, stop: asyncio.Event) -> None:
        kv = await self.bus.js.key_value(self.bucket)
        watcher = await kv.watch(self.pattern)
        jobs = (Job(self.resync_interval, self._resync), Job(self.beat.interval, self._heartbeat), *self.jobs)
        tasks = [asyncio.create_task(self._watch(watcher)), asyncio.create_task(self._loop())]
        tasks += [asyncio.create_task(every(j.interval, j.fn, self.log)) for j in jobs]
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            _, stuck = await asyncio.wait(tasks, timeout=10)
            if stuck:
                self.log.warning("tasks did not stop in time", n=len(stuck))
            await watcher.stop()
            self.log.info("worker stopped", binary=self.beat.binary, **self.stats())

    async def _watch(self, watcher) -> None:
        async for entry in watcher:
            if entry is None:                    # end of the replay of current values
                self.queue.add(FULL)
                self.replayed.set()
                continue
            key = self.absorb(entry)
            if self.replayed.is_set():
                self.queue.add(key)

    async def _resync(self) -> None:
        # Gated on the replay only, not on sync: one failing id must not stop drift checks.
        if self.replayed.is_set():
            self.queue.add(FULL)

    async def _heartbeat(self) -> None:
        aid = self.beat.agent_id
        await self.bus.publish(self.bus.subjects.status("agent", aid), wrap(self.beat, kind="agent", aggregate_id=aid))

    async def _loop(self) -> None:
        await self.replayed.wait()      # never plan against a partial set of intents
        while True:
            await self.batch(await self.queue.get_batch())

    async def run_batch(self, keys: list[str]) -> None:
        """Reconcile one batch against one host observation; account every id alone."""
        try:
            host = await self.worker.host_view()
            ids = {k.split(":", 1)[1] for k in keys if k != FULL}
            if FULL in keys:
                ids |= set(self.intents) | await self.worker.present(host)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - nothing of the batch ran: all retry
            self.queue.done(keys, ok=False)
            self.log.warning("observe failed", keys=len(keys), error=repr(exc)[:300])
            return
        failed = {oid for oid in sorted(ids) if not await self._one(oid, host)}
        for oid in ids:                          # ids reached through @full count too
            self.queue.done([self.key(oid)], ok=oid not in failed)
        if FULL in keys:
            self.queue.done([FULL], ok=True)     # the periodic check keeps its schedule
            if self._unsynced is None:
                self._unsynced = set(failed)
        self._check_synced(ids - failed)

    def _check_synced(self, good: set[str]) -> None:
        if self._unsynced is None or self.synced.is_set():
            return
        self._unsynced -= good
        if not self._unsynced:
            self.set_synced()

    def set_synced(self) -> None:
        """The host matched every intent once: run the hooks (start-up figures), say so."""
        if self.synced.is_set():
            return
        for fn in self.on_synced:
            fn()
        self.synced.set()
        self.log.info("initial sync done", intents=len(self.intents), **self.stats())

    async def _one(self, oid: str, host: Any) -> bool:
        structlog.contextvars.bind_contextvars(key=oid)
        try:
            await self.worker.reconcile(oid, host)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - retried with backoff, never crash
            self.log.warning("reconcile failed", id=oid, error=repr(exc)[:300],
                             retry_in=backoff(self.queue.failures(self.key(oid)) + 1))
            try:
                await self.worker.failed(oid, exc)
            except Exception as rexc:  # noqa: BLE001 - the retry matters more than the report
                self.log.warning("failure report failed", id=oid, error=repr(rexc)[:300])
            return False
        finally:
            structlog.contextvars.unbind_contextvars("key")
