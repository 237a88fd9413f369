"""Run one host's L2 worker: connect to NATS, build the mechanism, run until told to stop."""

from __future__ import annotations

import asyncio
import signal

import structlog

from netledger.deploy.streams import kv_buckets
from netledger.libs.bus import Bus, connect, ensure_streams
from netledger.libs.events.subjects import Subjects
from netledger.services.l2 import mechanisms
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.worker import L2Worker

log = structlog.get_logger("l2.agent")


def l2_bucket(prefix: str) -> str:
    return kv_buckets(prefix)[0]


async def build_worker(bus: Bus, cfg: AgentConfig) -> L2Worker:
    mech = mechanisms.create(cfg.backend, cfg)
    return L2Worker(bus, l2_bucket(bus.subjects.prefix), cfg, mech)


async def run_agent(cfg: AgentConfig, *, nats_url: str, prefix: str,
                    stop: asyncio.Event | None = None) -> L2Worker:
    """Until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None)."""
    structlog.contextvars.bind_contextvars(host=cfg.host)
    bus = await connect(nats_url, name=f"l2-agent-{cfg.host}", subjects=Subjects(prefix))
    try:
        await ensure_streams(bus)
        worker = await build_worker(bus, cfg)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        log.info("l2 agent starting", backend=worker.mech.name, tunnel_ip=cfg.tunnel_ip,
                 bridge_mappings=cfg.bridge_mappings, ovsdb=cfg.ovsdb)
        await worker.run(stop)
        return worker
    finally:
        await bus.nc.drain()
