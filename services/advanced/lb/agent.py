"""Run one host's LB worker (the shared agent entry point, libs/agent)."""

from __future__ import annotations

import asyncio

from netledger.libs import agent
from netledger.services.topology.schedule_lb import lb_bucket

from .config import LbConfig
from .worker import LbWorker


async def run_agent(cfg: LbConfig, *, nats_url: str, prefix: str, stop: asyncio.Event | None = None) -> LbWorker:
    """Until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None)."""
    return await agent.run_agent("lb-agent", cfg.host, lambda bus: LbWorker(bus, lb_bucket(prefix), cfg),
                                 nats_url=nats_url, prefix=prefix, stop=stop, ovsdb=cfg.ovsdb,
                                 host_netns=cfg.host_netns, state_dir=cfg.state_dir)
