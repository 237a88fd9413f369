"""Read-your-writes: wait until the projection this API reads has folded a sequence.

Topology announces each committed position on core NATS; between announcements
(or if one is missed) the checkpoint row is polled, so a waiter never depends on a
single notification.
"""

from __future__ import annotations

import asyncio
import json

from netledger.errors import ServiceUnavailable

from .store import Reader

POLL_S = 0.05


class Position:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.seen: dict[str, int] = {"events": reader.position("events"), "status": reader.position("status")}
        self._changed = asyncio.Event()

    async def start(self, nc, subject: str) -> None:
        await nc.subscribe(subject, cb=self._on_announce)

    async def _on_announce(self, msg) -> None:
        info = json.loads(msg.data)
        if info["seq"] > self.seen.get(info["stream"], 0):
            self.seen[info["stream"]] = info["seq"]
            self._changed.set()

    def refresh(self, stream: str = "events") -> int:
        seq = self.reader.position(stream)
        if seq > self.seen.get(stream, 0):
            self.seen[stream] = seq
        return self.seen[stream]

    async def wait_for(self, seq: int, *, stream: str = "events", timeout: float = 10.0) -> None:
        """Return once the projection reached ``seq``; 503 if it does not in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.seen.get(stream, 0) < seq and self.refresh(stream) < seq:
            left = deadline - loop.time()
            if left <= 0:
                raise ServiceUnavailable(
                    f"The projection has not caught up with event {seq} yet; the change is committed "
                    "and will be visible shortly.")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(POLL_S, left))
            except asyncio.TimeoutError:
                pass
