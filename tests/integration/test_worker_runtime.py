"""The shared worker runtime over a real nats-server: one failing key backs off alone.

Three routers' intents sit in the real L3 KV bucket; the worker's apply of router B
fails (a host whose kernel refuses B's change). The runtime must apply A and C in the
same batch at once, retry B on its own backoff, keep running the periodic ``@full``
check, and, once B's fault clears, apply B and report synced.
"""

from __future__ import annotations

import asyncio
import time

import msgspec

from netledger.libs.bus import connect, ensure_streams
from netledger.libs.events.envelope import utc_now
from netledger.libs.events.status import AgentHeartbeat
from netledger.libs.events.subjects import Subjects, host_token
from netledger.libs.worker_runtime import FULL, IntentRuntime
from netledger.services.topology.intents_l3 import l3_bucket


class Intent(msgspec.Struct, frozen=True):
    router_id: str
    revision: int


class Host:
    """An in-memory host: applied revision per router; B's apply fails while ``broken``."""

    def __init__(self) -> None:
        self.applied: dict[str, int] = {}
        self.calls: list[str] = []
        self.fulls = 0
        self.broken = {"B"}
        self.errors: list[str] = []
        self.rt: IntentRuntime | None = None

    async def host_view(self) -> dict[str, int]:
        return dict(self.applied)

    async def present(self, host: dict[str, int]) -> set[str]:
        self.fulls += 1
        return set(host)

    async def reconcile(self, oid: str, host) -> None:
        self.calls.append(oid)
        intent = self.rt.intents.get(oid)
        if oid in self.broken:
            raise RuntimeError(f"apply of {oid} refused")
        if intent is None:
            self.applied.pop(oid, None)
        else:
            self.applied[oid] = intent.revision

    async def failed(self, oid: str, exc: Exception) -> None:
        self.errors.append(oid)


async def until(cond, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_failing_router_backs_off_alone(nats_server, prefix):
    bus = await connect(nats_server, name="rt-it", subjects=Subjects(prefix))
    host_name = "rt-host.example"
    stop = asyncio.Event()
    task = None
    try:
        await ensure_streams(bus)
        kv = await bus.js.key_value(l3_bucket(prefix))
        for rid in ("A", "B", "C"):
            await kv.put(f"{host_token(host_name)}.router.{rid}", msgspec.json.encode(Intent(router_id=rid, revision=1)))
        fake = Host()
        beat = AgentHeartbeat(agent_id="x", host=host_name, agent_type="L3 agent", binary="b",
                              started_at=utc_now(), interval=30.0)
        rt = IntentRuntime(bus, l3_bucket(prefix), host=host_name, kind="router",
                           decode=msgspec.json.Decoder(Intent).decode, worker=fake, heartbeat=beat,
                           resync_interval=0.3)
        fake.rt = rt
        task = asyncio.create_task(rt.run(stop))

        await until(lambda: fake.applied == {"A": 1, "C": 1}, "A and C were not applied in the first batch")
        assert fake.calls[:3] == ["A", "B", "C"], "one batch, every router tried once"
        assert not rt.synced.is_set(), "B failed: not synced yet"

        # B backs off on its own: its failures climb while A and C are never failed.
        await until(lambda: rt.queue.failures("router:B") >= 2, "B was not retried")
        assert rt.queue.failures("router:A") == rt.queue.failures("router:C") == 0
        assert rt.queue.failures(FULL) == 0, "the periodic check is not backed off"
        fulls = fake.fulls
        await until(lambda: fake.fulls >= fulls + 2, "the periodic check stopped while B fails")

        # A change to A while B keeps failing is applied promptly, not after B's backoff.
        await kv.put(f"{host_token(host_name)}.router.A", msgspec.json.encode(Intent(router_id="A", revision=2)))
        await until(lambda: fake.applied.get("A") == 2, "A's change waited for B")

        # Clearing B's fault lets its own retry (or the next check) apply it: synced.
        fake.broken.clear()
        await until(lambda: fake.applied.get("B") == 1, "B never recovered")
        await asyncio.wait_for(rt.synced.wait(), 20)
        assert rt.queue.failures("router:B") == 0, "a success resets B's backoff"

        # The periodic @full keeps running: it is taken again after sync.
        fulls = fake.fulls
        await until(lambda: fake.fulls >= fulls + 2, "the periodic check stopped")
        assert set(fake.errors) == {"B"}
    finally:
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 15)
        await bus.nc.drain()
