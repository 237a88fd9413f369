"""Tell Nova what Neutron tells it: vif plugged/unplugged/deleted and network-changed.

Inputs, both read-only (no API write ever waits on Nova):
- the events stream, from the start, on an ordered consumer: facts build the port ->
  instance map (:mod:`decide`); facts written before this process started only fold,
  later ones may notify;
- ``<prefix>.notify.vif.>``: each port status change as the API shows it.
Events are batched as Neutron does (at most one POST per ``nova_send_events_interval``
seconds) and a batch Nova could not take (no answer, 5xx, 401) is retried with
backoff; a batch still failing after RETRIES is logged and dropped, as Neutron does.
Run it in one API process per deployment (it is on where ``nova_url`` is set).
"""

from __future__ import annotations

import asyncio
import json

import structlog
from nats.js.api import ConsumerConfig, DeliverPolicy

from netledger.libs.events import codec

from .decide import NovaEvent, NovaState, on_fact, on_status
from .driver_nova import NovaClient, NovaRetry

log = structlog.get_logger("nova")

RETRIES = 6
MAX_QUEUED = 10_000


class NovaNotifier:
    def __init__(self, cfg, bus, client: NovaClient | None = None) -> None:
        self.bus = bus
        self.interval = cfg.nova_send_events_interval
        self.client = client or NovaClient(cfg)
        self.state = NovaState()
        self.queued: list[NovaEvent] = []
        self.wake = asyncio.Event()
        self.boot_seq = 0
        self.subs: list = []
        self.sender: asyncio.Task | None = None

    async def start(self) -> None:
        prefix = self.bus.subjects.prefix
        info = await self.bus.js.stream_info(self.bus.stream_names["events"])
        self.boot_seq = info.state.last_seq
        self.subs.append(await self.bus.js.subscribe(
            f"{prefix}.evt.>", ordered_consumer=True, cb=self._on_fact,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL), pending_msgs_limit=-1, pending_bytes_limit=-1))
        self.subs.append(await self.bus.nc.subscribe(f"{prefix}.notify.vif.>", cb=self._on_status))
        self.sender = asyncio.create_task(self._send_loop())
        log.info("nova notifier on", url=self.client.url, replay_to=self.boot_seq)

    async def stop(self) -> None:
        for sub in self.subs:
            await sub.unsubscribe()
        if self.sender:
            self.sender.cancel()
        await self.client.close()

    async def _on_fact(self, msg) -> None:
        try:
            env = codec.decode(msg.data)
        except Exception as exc:  # not ours to judge: the projection parks poison
            log.debug("nova skipped undecodable event", error=repr(exc))
            return
        events = on_fact(self.state, env.event)
        if events and msg.metadata.sequence.stream > self.boot_seq:
            self.queue(events)

    async def _on_status(self, msg) -> None:
        try:
            note = json.loads(msg.data)
        except ValueError:
            return
        self.queue(on_status(self.state, note.get("port_id", ""), note.get("status", "")))

    def queue(self, events: list[NovaEvent]) -> None:
        if not events:
            return
        self.queued.extend(events)
        if len(self.queued) > MAX_QUEUED:   # Nova away for long: keep the newest
            log.error("nova queue full, dropping oldest", dropped=len(self.queued) - MAX_QUEUED)
            del self.queued[:-MAX_QUEUED]
        self.wake.set()

    async def _send_loop(self) -> None:
        while True:
            await self.wake.wait()
            await asyncio.sleep(self.interval)   # Neutron's batching: gather what came meanwhile
            self.wake.clear()
            batch, self.queued = self.queued, []
            if batch:
                await self._deliver(batch)

    async def _deliver(self, batch: list[NovaEvent]) -> None:
        delay = self.interval or 0.5
        for attempt in range(1, RETRIES + 1):
            try:
                await self.client.send(batch)
                return
            except NovaRetry as exc:
                log.warning("nova notification failed, retrying", attempt=attempt, error=str(exc), events=len(batch))
                await asyncio.sleep(min(delay * 2 ** (attempt - 1), 30))
        log.error("nova notification given up", events=[e.name for e in batch])
