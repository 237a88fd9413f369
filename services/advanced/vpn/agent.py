"""Run one host's VPN worker: connect to NATS, run until told to stop."""

from __future__ import annotations

import asyncio
import signal

import structlog

from netledger.libs.bus import connect, ensure_streams
from netledger.libs.events.subjects import Subjects
from netledger.services.topology.compile_vpn import vpn_bucket

from .config import VpnConfig
from .worker import VpnWorker

log = structlog.get_logger("vpn.agent")


async def run_agent(cfg: VpnConfig, *, nats_url: str, prefix: str, stop: asyncio.Event | None = None) -> VpnWorker:
    """Until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None). Charons keep
    running across an agent restart (the next agent adopts them by pid file)."""
    structlog.contextvars.bind_contextvars(host=cfg.host)
    bus = await connect(nats_url, name=f"vpn-agent-{cfg.host}", subjects=Subjects(prefix))
    try:
        await ensure_streams(bus)
        worker = VpnWorker(bus, vpn_bucket(prefix), cfg)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        log.info("vpn agent starting", netns_prefix=cfg.netns_prefix, state_dir=cfg.state_dir)
        await worker.run(stop)
        return worker
    finally:
        await bus.nc.drain()
