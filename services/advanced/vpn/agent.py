"""Run one host's VPN worker (the shared agent entry point, libs/agent)."""

from __future__ import annotations

import asyncio

from netledger.libs import agent
from netledger.services.topology.compile_vpn import vpn_bucket

from .config import VpnConfig
from .worker import VpnWorker


async def run_agent(cfg: VpnConfig, *, nats_url: str, prefix: str, stop: asyncio.Event | None = None) -> VpnWorker:
    """Until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None). Charons keep
    running across an agent restart (the next agent adopts them by pid file)."""
    return await agent.run_agent("vpn-agent", cfg.host, lambda bus: VpnWorker(bus, vpn_bucket(prefix), cfg),
                                 nats_url=nats_url, prefix=prefix, stop=stop,
                                 netns_prefix=cfg.netns_prefix, state_dir=cfg.state_dir)
