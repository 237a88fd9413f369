"""Run one host's L3 worker (the shared agent entry point, libs/agent)."""

from __future__ import annotations

import asyncio

from netledger.libs import agent
from netledger.services.topology.intents_l3 import l3_bucket

from .config import L3Config
from .worker import L3Worker


async def run_agent(cfg: L3Config, *, nats_url: str, prefix: str, stop: asyncio.Event | None = None) -> L3Worker:
    """Until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None)."""
    return await agent.run_agent("l3-agent", cfg.host, lambda bus: L3Worker(bus, l3_bucket(prefix), cfg),
                                 nats_url=nats_url, prefix=prefix, stop=stop, ovsdb=cfg.ovsdb,
                                 host_netns=cfg.host_netns, netns_prefix=cfg.netns_prefix)
