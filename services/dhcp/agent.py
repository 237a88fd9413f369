"""Run one host's DHCP worker (the shared agent entry point, libs/agent)."""

from __future__ import annotations

import asyncio

from netledger.deploy.streams import kv_buckets
from netledger.libs import agent
from netledger.libs.bus import Bus

from .config import DhcpAgentConfig
from .worker import DhcpWorker


def dhcp_bucket(prefix: str) -> str:
    return kv_buckets(prefix)[1]


def build_worker(bus: Bus, cfg: DhcpAgentConfig) -> DhcpWorker:
    return DhcpWorker(bus, dhcp_bucket(bus.subjects.prefix), cfg)


async def run_agent(cfg: DhcpAgentConfig, *, nats_url: str, prefix: str,
                    stop: asyncio.Event | None = None) -> DhcpWorker:
    """Until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None). dnsmasq and the
    metadata proxies keep running across a restart of the agent (found again by pid file)."""
    return await agent.run_agent("dhcp-agent", cfg.host, lambda bus: build_worker(bus, cfg),
                                 nats_url=nats_url, prefix=prefix, stop=stop, state_dir=cfg.root,
                                 ovsdb=cfg.ovsdb, host_netns=cfg.host_netns)
