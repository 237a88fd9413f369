"""Run one host's LB worker: connect to NATS, run until told to stop."""

from __future__ import annotations

import asyncio
import signal

import structlog

from netledger.libs.bus import connect, ensure_streams
from netledger.libs.events.subjects import Subjects
from netledger.services.topology.schedule_lb import lb_bucket

from .config import LbConfig
from .worker import LbWorker

log = structlog.get_logger("lb.agent")


async def run_agent(cfg: LbConfig, *, nats_url: str, prefix: str, stop: asyncio.Event | None = None) -> LbWorker:
    """Until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None)."""
    structlog.contextvars.bind_contextvars(host=cfg.host)
    bus = await connect(nats_url, name=f"lb-agent-{cfg.host}", subjects=Subjects(prefix))
    try:
        await ensure_streams(bus)
        worker = LbWorker(bus, lb_bucket(prefix), cfg)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        log.info("lb agent starting", ovsdb=cfg.ovsdb, host_netns=cfg.host_netns, state_dir=cfg.state_dir)
        await worker.run(stop)
        return worker
    finally:
        await bus.nc.drain()
