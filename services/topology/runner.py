"""The topology service: pull events, fold them into SQLite, announce the position.

One durable pull consumer per stream and per projection name. A batch of messages is
folded inside one transaction together with the new stream position, then acked
(AckAll on the last one). After the commit the position is announced on core NATS so
API processes waiting for read-your-writes wake up at once.
"""

from __future__ import annotations

import asyncio
import json

import nats.js.errors
import structlog
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from netledger.libs.bus import Bus
from netledger.libs.events import codec
from netledger.libs.pull import PullConsumer

from . import store
from .evolve.dispatch import evolve

log = structlog.get_logger("topology")

BATCH = 1000


class Folder:
    """Folds raw messages of one stream into the projection (the pure part driven here)."""

    def __init__(self, projection: store.Projection, stream_key: str, bus: Bus | None, consumer: str) -> None:
        self.proj = projection
        self.stream_key = stream_key
        self.bus = bus
        self.consumer = consumer
        self.position = store.position(projection.db, stream_key)
        self.parked: list[tuple[int, bytes, str]] = []
        # What the last batch touched, for the hooks that run after its commit.
        self.touched_networks: set[str] = set()
        self.reported_ports: set[str] = set()

    def fold_batch(self, items: list[tuple[int, bytes]]) -> int:
        """Fold (seq, data) pairs in one transaction; returns the new position."""
        fresh = [(s, d) for s, d in items if s > self.position]
        if not fresh:
            return self.position
        self.proj.begin()
        try:
            for seq, data in fresh:
                self._fold_one(seq, data)
            last = fresh[-1][0]
            self.proj.commit(self.stream_key, last)
        except BaseException:
            self.proj.rollback()
            raise
        self.position = last
        return last

    def _fold_one(self, seq: int, data: bytes) -> None:
        try:
            env = codec.decode(data)
        except codec.PoisonMessage as exc:
            # Park it and go on: one bad message must not stop the projection.
            self.parked.append((seq, data, str(exc)))
            log.warning("poison message parked", seq=seq, reason=str(exc))
            return
        self._note_touched(env)
        self.proj.apply(evolve(env, seq, self.proj.read, stream=self.stream_key))

    def _note_touched(self, env) -> None:
        """Remember which networks (events) or ports (status) this message concerns."""
        if self.stream_key == "status":
            port_id = getattr(env.event, "port_id", None)
            if port_id:
                self.reported_ports.add(port_id)
        elif env.kind in ("network", "dhcp"):
            self.touched_networks.add(env.aggregate_id)
        elif env.kind in ("port", "subnet"):
            net = getattr(env.event, "network_id", None)
            if net is None:
                row = self.proj.read(f"{env.kind}s", env.aggregate_id)
                net = row["network_id"] if row else None
            if net:
                self.touched_networks.add(net)

    async def flush_parked(self) -> None:
        if not self.bus:
            self.parked.clear()
            return
        while self.parked:
            seq, data, reason = self.parked.pop(0)
            headers = {"Nl-Dlq-Reason": reason[:500], "Nl-Dlq-Stream": self.stream_key,
                       "Nl-Dlq-Seq": str(seq), "Nats-Msg-Id": f"dlq:{self.consumer}:{self.stream_key}:{seq}"}
            await self.bus.js.publish(self.bus.subjects.dlq(self.consumer), data, headers=headers)


async def ensure_consumer(bus: Bus, stream: str, durable: str, start: int) -> PullConsumer:
    """(Re)create the durable consumer at the stored position and pull from it.

    Always recreated: a killed predecessor leaves pull requests on the server whose
    inbox nobody reads; messages handed to them would be acknowledged by our next
    AckAll and never folded. A fresh consumer at ``start + 1`` has none of them.
    """
    js = bus.js
    try:
        await js.delete_consumer(stream, durable)
    except nats.js.errors.NotFoundError:
        pass
    cfg = ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.ALL, max_ack_pending=20000,
                         ack_wait=60, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                         opt_start_seq=start + 1, inactive_threshold=None)
    await js.add_consumer(stream, cfg)
    consumer = PullConsumer(bus.nc, stream, durable)
    await consumer.start()
    bus.on_reconnect.append(consumer.renew)
    return consumer


def contiguous(items: list[tuple[int, bytes]], position: int) -> tuple[list[tuple[int, bytes]], bool]:
    """The messages that continue ``position`` without a hole, and whether a hole was seen.

    The events stream never deletes, so its sequences have no holes: a hole means a
    message went elsewhere (an orphaned pull request) and must be fetched again, never
    skipped."""
    out, expected, hole = [], position + 1, False
    for seq, data in items:
        if seq < expected:
            continue
        if seq != expected:
            hole = True
            break
        out.append((seq, data))
        expected += 1
    return out, hole


async def run_stream(bus: Bus, db_path: str, name: str, stream_key: str,
                     ready: asyncio.Event | None = None, after_commit=None) -> None:
    """Fold one stream forever (each stream gets its own connection to SQLite)."""
    db = store.open_db(db_path)
    store.create_schema(db)
    folder = Folder(store.Projection(db), stream_key, bus, consumer=name)
    stream = bus.stream_names[stream_key]
    sub = await ensure_consumer(bus, stream, f"{name}_{stream_key}", folder.position)
    announce = bus.subjects.projection_position(name)
    log.info("folding", stream=stream, position=folder.position)
    if ready:
        ready.set()
    while True:
        try:
            msgs = await sub.next_batch(BATCH)
        except Exception as exc:  # server restart, consumer lost: back off, rebind
            log.warning("fetch failed", error=repr(exc))
            msgs = []
        if not msgs:
            if not bus.nc.is_connected:
                await asyncio.sleep(0.5)
                continue
            try:  # idle or lost: make sure the consumer still exists at our position
                await sub.stop()
                if sub.renew in bus.on_reconnect:
                    bus.on_reconnect.remove(sub.renew)
                sub = await ensure_consumer(bus, stream, f"{name}_{stream_key}", folder.position)
            except Exception as exc2:
                log.warning("rebind failed", error=repr(exc2))
                await asyncio.sleep(0.5)
            continue
        items = [(m.metadata.sequence.stream, m.data) for m in msgs]
        hole = False
        if stream_key == "events":   # the status stream drops old reports per subject: holes are normal
            items, hole = contiguous(items, folder.position)
        if items:
            pos = folder.fold_batch(items)
            structlog.contextvars.bind_contextvars(seq=pos)
            await folder.flush_parked()
            last = items[-1][0]
            await next(m for m in msgs if m.metadata.sequence.stream == last).ack()
        if hole:
            log.warning("hole in the stream; refetching from the stored position", position=folder.position)
            await sub.stop()
            if sub.renew in bus.on_reconnect:
                bus.on_reconnect.remove(sub.renew)
            sub = await ensure_consumer(bus, stream, f"{name}_{stream_key}", folder.position)
        if not items:
            continue
        pos = folder.position
        await bus.nc.publish(announce, json.dumps({"stream": stream_key, "seq": pos}).encode())
        if after_commit:
            touched, reported = folder.touched_networks, folder.reported_ports
            folder.touched_networks, folder.reported_ports = set(), set()
            try:
                await after_commit(touched, reported)
            except Exception as exc:  # intents are re-derived next time; never stop folding
                log.warning("after-commit hook failed", error=repr(exc))
        log.debug("folded", stream=stream_key, count=len(msgs), seq=pos)
