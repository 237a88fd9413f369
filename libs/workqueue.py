"""A deduplicating work queue with per-key backoff (controller-runtime style, asyncio).

- ``add(k)``: k becomes ready now; adding a queued key again does nothing (a key
  queued twice runs once). A key added while it is being processed is re-queued
  when its processing ends, so no change is lost.
- ``get_batch()``: waits for ready keys and takes all of them (the worker reconciles
  a batch against one observation).
- ``done(keys, ok)``: failed keys come back after an exponential backoff; a success
  resets the key's failure count.
"""

from __future__ import annotations

import asyncio
import time

BACKOFF_MIN = 0.2
BACKOFF_MAX = 30.0


def backoff(failures: int) -> float:
    return min(BACKOFF_MIN * 2 ** max(failures - 1, 0), BACKOFF_MAX)


class WorkQueue:
    def __init__(self) -> None:
        self._ready: dict[str, None] = {}        # insertion-ordered set
        self._delayed: dict[str, float] = {}     # key -> monotonic due time
        self._processing: set[str] = set()
        self._dirty: set[str] = set()
        self._failures: dict[str, int] = {}
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._ready) + len(self._delayed)

    def add(self, key: str) -> None:
        if key in self._processing:
            self._dirty.add(key)
            return
        self._delayed.pop(key, None)
        self._ready[key] = None
        self._wake.set()

    def add_after(self, key: str, delay: float) -> None:
        if key in self._ready:
            return
        due = time.monotonic() + delay
        self._delayed[key] = min(due, self._delayed.get(key, due))
        self._wake.set()

    def failures(self, key: str) -> int:
        return self._failures.get(key, 0)

    def _promote(self) -> float | None:
        """Move due delayed keys to ready; return seconds until the next one."""
        now = time.monotonic()
        for key, due in sorted(self._delayed.items(), key=lambda kv: kv[1]):
            if due <= now:
                del self._delayed[key]
                self._ready[key] = None
        return min(self._delayed.values()) - now if self._delayed else None

    async def get_batch(self, limit: int = 100_000) -> list[str]:
        while True:
            wait = self._promote()
            if self._ready:
                keys = list(self._ready)[:limit]
                for k in keys:
                    del self._ready[k]
                self._processing.update(keys)
                return keys
            self._wake.clear()
            # A timer rather than wait_for(): on 3.11 wait_for can swallow a cancellation
            # that races with the inner wait finishing, and the worker would never stop.
            timer = (asyncio.get_running_loop().call_later(max(wait, 0.0), self._wake.set)
                     if wait is not None else None)
            try:
                await self._wake.wait()
            finally:
                if timer is not None:
                    timer.cancel()

    def done(self, keys: list[str], ok: bool) -> None:
        for key in keys:
            self._processing.discard(key)
            if ok:
                self._failures.pop(key, None)
            else:
                self._failures[key] = self._failures.get(key, 0) + 1
                self.add_after(key, backoff(self._failures[key]))
            if key in self._dirty:
                self._dirty.discard(key)
                self.add(key)
