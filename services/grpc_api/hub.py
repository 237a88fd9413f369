"""One live tail of the events stream per API process, fanned out to every Watch.

Each event is decoded once however many streams are open (50 streams would otherwise
mean 50 consumers decoding everything in this process). A Watch registers first, then
replays the history it asked for on its own ordered consumer up to the hub's position
``H`` at registration; from ``H`` on its queue has every event. Handover is by stream
sequence, so nothing is missed or delivered twice. A watcher whose queue grows past
MAX_QUEUE is closed (it resumes with its last seq).
"""

from __future__ import annotations

import asyncio

import structlog
from nats.js.api import ConsumerConfig, DeliverPolicy

from netledger.libs.events import codec

log = structlog.get_logger("grpc.hub")

MAX_QUEUE = 200_000


class Item:
    """A decoded event plus its Change messages, built once per owner project."""

    __slots__ = ("seq", "env", "built")

    def __init__(self, seq: int, env) -> None:
        self.seq, self.env, self.built = seq, env, {}


class Overflow(Exception):
    """A watcher fell too far behind."""


def start_config(after_seq: int) -> ConsumerConfig:
    """Deliver events with a sequence greater than ``after_seq``."""
    if after_seq <= 0:
        return ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
    return ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after_seq + 1)


class Hub:
    def __init__(self, bus) -> None:
        self.bus = bus
        self.next_seq = 1
        self.watchers: set[asyncio.Queue] = set()
        self.sub = None

    @property
    def subject(self) -> str:
        return f"{self.bus.subjects.prefix}.evt.>"

    async def start(self) -> None:
        info = await self.bus.js.stream_info(self.bus.stream_names["events"])
        self.next_seq = info.state.last_seq + 1
        self.sub = await self.bus.js.subscribe(self.subject, ordered_consumer=True, cb=self._on_msg,
                                               config=start_config(info.state.last_seq),
                                               pending_msgs_limit=-1, pending_bytes_limit=-1)

    async def stop(self) -> None:
        if self.sub:
            await self.sub.unsubscribe()

    async def _on_msg(self, msg) -> None:
        seq = msg.metadata.sequence.stream
        self.next_seq = seq + 1
        try:
            item = Item(seq, codec.decode(msg.data))
        except Exception as exc:  # an undecodable event is skipped, never fatal
            log.warning("watch hub skipped undecodable event", seq=seq, error=repr(exc))
            return
        for queue in list(self.watchers):
            if queue.qsize() >= MAX_QUEUE:
                self.watchers.discard(queue)
                queue.put_nowait(Overflow())
            else:
                queue.put_nowait(item)

    def register(self) -> tuple[asyncio.Queue, int]:
        """A queue that gets every event from the returned sequence H on."""
        queue: asyncio.Queue = asyncio.Queue()
        self.watchers.add(queue)
        return queue, self.next_seq

    def unregister(self, queue: asyncio.Queue) -> None:
        self.watchers.discard(queue)

    async def history(self, after_seq: int, until_seq: int):
        """Items with after_seq < seq < until_seq, from a consumer of their own."""
        if after_seq + 1 >= until_seq:
            return
        sub = await self.bus.js.subscribe(self.subject, ordered_consumer=True, config=start_config(after_seq),
                                          pending_msgs_limit=-1, pending_bytes_limit=-1)
        try:
            info = await sub.consumer_info()
            # Nothing past after_seq was, or will be, delivered: no message is coming.
            if info.num_pending == 0 and (info.delivered.stream_seq or 0) <= after_seq:
                return
            async for msg in sub.messages:
                seq = msg.metadata.sequence.stream
                if seq >= until_seq:
                    return
                try:
                    yield Item(seq, codec.decode(msg.data))
                except Exception as exc:
                    log.warning("watch skipped undecodable event", seq=seq, error=repr(exc))
                if msg.metadata.num_pending == 0:
                    return
        finally:
            await sub.unsubscribe()
