"""A low-latency durable pull consumer.

nats-py's ``fetch(batch)`` waits for the whole batch (or its timeout) once the first
message has arrived, which turns into latency under steady load. This keeps pull
requests outstanding on our own inbox and hands over, in one call, every message that
has arrived so far: the caller folds them as a batch and acks the last (AckAll).
Flow control is the pull itself: at most ``window`` messages are ever requested ahead.
"""

from __future__ import annotations

import asyncio
import json

import structlog

log = structlog.get_logger("pull")

HEARTBEAT_S = 5.0
EXPIRES_S = 30.0


class PullConsumer:
    def __init__(self, nc, stream: str, consumer: str, *, window: int = 2000) -> None:
        self.nc = nc
        self.stream = stream
        self.consumer = consumer
        self.window = window
        self.queue: asyncio.Queue = asyncio.Queue()
        self.pending = 0          # messages requested and not yet received or expired
        self.inbox = ""
        self.sub = None
        self.last_seen = 0.0

    async def start(self) -> None:
        self.inbox = self.nc.new_inbox()
        self.sub = await self.nc.subscribe(self.inbox, cb=self._on_msg)
        await self._request()

    async def renew(self) -> None:
        """After a reconnect the server may have forgotten our pull: ask again."""
        self.pending = 0
        await self._request()

    async def stop(self) -> None:
        if self.sub:
            await self.sub.unsubscribe()

    async def _request(self) -> None:
        batch = self.window
        req = {"batch": batch, "expires": int(EXPIRES_S * 1e9), "idle_heartbeat": int(HEARTBEAT_S * 1e9)}
        self.pending += batch
        await self.nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.consumer}",
                              json.dumps(req).encode(), reply=self.inbox)

    async def _on_msg(self, msg) -> None:
        self.last_seen = asyncio.get_running_loop().time()
        status = (msg.headers or {}).get("Status") if not msg.data else None
        if status:
            if status in ("408", "409", "404"):
                # Request expired or was refused: forget what it still owed us.
                owed = int((msg.headers or {}).get("Nats-Pending-Messages", 0) or 0)
                self.pending = max(0, self.pending - owed) if owed else 0
                if status != "408":
                    log.debug("pull request refused", status=status, desc=(msg.headers or {}).get("Description"))
            return
        self.pending -= 1
        self.queue.put_nowait(msg)

    async def next_batch(self, max_items: int = 5000, timeout: float = HEARTBEAT_S * 2) -> list:
        """Everything that arrived (at least one message), or [] after ``timeout``."""
        if self.pending < self.window // 2:
            await self._request()
        try:
            first = await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            self.pending = 0  # be safe after a server restart: ask again
            await self._request()
            return []
        batch = [first]
        while not self.queue.empty() and len(batch) < max_items:
            batch.append(self.queue.get_nowait())
        return batch
