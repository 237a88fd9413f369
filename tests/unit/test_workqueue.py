"""Work queue: dedup, batches, re-queue of keys changed while processing, backoff."""

from __future__ import annotations

import asyncio

from netledger.libs.workqueue import BACKOFF_MAX, WorkQueue, backoff


async def test_key_queued_twice_runs_once():
    q = WorkQueue()
    for k in ("a", "b", "a", "a"):
        q.add(k)
    assert await q.get_batch() == ["a", "b"]
    q.done(["a", "b"], ok=True)
    assert len(q) == 0


async def test_key_added_while_processing_runs_again_after():
    q = WorkQueue()
    q.add("a")
    batch = await q.get_batch()
    q.add("a")
    assert len(q) == 0, "not ready while in flight"
    q.done(batch, ok=True)
    assert await asyncio.wait_for(q.get_batch(), 1) == ["a"]


async def test_failure_backs_off_and_success_resets():
    q = WorkQueue()
    q.add("a")
    q.done(await q.get_batch(), ok=False)
    assert q.failures("a") == 1
    t0 = asyncio.get_running_loop().time()
    batch = await asyncio.wait_for(q.get_batch(), 2)
    assert batch == ["a"] and asyncio.get_running_loop().time() - t0 >= backoff(1) * 0.9
    q.done(batch, ok=True)
    assert q.failures("a") == 0


def test_backoff_grows_and_caps():
    assert backoff(1) < backoff(2) < backoff(3)
    assert backoff(100) == BACKOFF_MAX
