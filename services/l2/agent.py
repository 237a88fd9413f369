"""Run one host's L2 worker (the shared agent entry point, libs/agent): build the
mechanism, run until told to stop."""

from __future__ import annotations

import asyncio

from netledger.deploy.streams import kv_buckets
from netledger.libs import agent
from netledger.libs.bus import Bus
from netledger.services.l2 import mechanisms
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.worker import L2Worker


def l2_bucket(prefix: str) -> str:
    return kv_buckets(prefix)[0]


async def build_worker(bus: Bus, cfg: AgentConfig) -> L2Worker:
    mech = mechanisms.create(cfg.backend, cfg)
    return L2Worker(bus, l2_bucket(bus.subjects.prefix), cfg, mech)


async def run_agent(cfg: AgentConfig, *, nats_url: str, prefix: str,
                    stop: asyncio.Event | None = None) -> L2Worker:
    """Until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None)."""
    return await agent.run_agent("l2-agent", cfg.host, lambda bus: build_worker(bus, cfg),
                                 nats_url=nats_url, prefix=prefix, stop=stop, backend=cfg.backend,
                                 tunnel_ip=cfg.tunnel_ip, bridge_mappings=cfg.bridge_mappings, ovsdb=cfg.ovsdb)
