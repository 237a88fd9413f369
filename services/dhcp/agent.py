"""Run one host's DHCP worker: connect to NATS, run until told to stop."""

from __future__ import annotations

import asyncio
import signal

import structlog

from netledger.deploy.streams import kv_buckets
from netledger.libs.bus import Bus, connect, ensure_streams
from netledger.libs.events.subjects import Subjects

from .config import DhcpAgentConfig
from .worker import DhcpWorker

log = structlog.get_logger("dhcp.agent")


def dhcp_bucket(prefix: str) -> str:
    return kv_buckets(prefix)[1]


def build_worker(bus: Bus, cfg: DhcpAgentConfig) -> DhcpWorker:
    return DhcpWorker(bus, dhcp_bucket(bus.subjects.prefix), cfg)


async def run_agent(cfg: DhcpAgentConfig, *, nats_url: str, prefix: str,
                    stop: asyncio.Event | None = None) -> DhcpWorker:
    """Until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None). dnsmasq and the
    metadata proxies keep running across a restart of the agent (found again by pid file)."""
    structlog.contextvars.bind_contextvars(host=cfg.host)
    bus = await connect(nats_url, name=f"dhcp-agent-{cfg.host}", subjects=Subjects(prefix))
    try:
        await ensure_streams(bus)
        worker = build_worker(bus, cfg)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        log.info("dhcp agent starting", state_dir=cfg.root, ovsdb=cfg.ovsdb, host_netns=cfg.host_netns)
        await worker.run(stop)
        return worker
    finally:
        await bus.nc.drain()
