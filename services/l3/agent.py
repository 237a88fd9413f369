"""Run one host's L3 worker: connect to NATS, run until told to stop."""

from __future__ import annotations

import asyncio
import signal

import structlog

from netledger.libs.bus import connect, ensure_streams
from netledger.libs.events.subjects import Subjects
from netledger.services.topology.intents_l3 import l3_bucket

from .config import L3Config
from .worker import L3Worker

log = structlog.get_logger("l3.agent")


async def run_agent(cfg: L3Config, *, nats_url: str, prefix: str, stop: asyncio.Event | None = None) -> L3Worker:
    """Until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None)."""
    structlog.contextvars.bind_contextvars(host=cfg.host)
    bus = await connect(nats_url, name=f"l3-agent-{cfg.host}", subjects=Subjects(prefix))
    try:
        await ensure_streams(bus)
        worker = L3Worker(bus, l3_bucket(prefix), cfg)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        log.info("l3 agent starting", ovsdb=cfg.ovsdb, host_netns=cfg.host_netns, netns_prefix=cfg.netns_prefix)
        await worker.run(stop)
        return worker
    finally:
        await bus.nc.drain()
