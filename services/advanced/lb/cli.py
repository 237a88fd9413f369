"""CLI: ``lb-agent`` (``add_subcommands(subparsers)``)."""

from __future__ import annotations

from netledger.libs.agent_cli import BUS, HEARTBEAT, HOST, OVSDB, RESYNC, Flag, add_agent, config_from, serve


def add_subcommands(subparsers) -> None:
    add_agent(subparsers, "lb-agent", "run a host's load balancer worker (HAProxy) until SIGTERM", (
        HOST, *BUS, OVSDB,
        Flag(name="--host-netns", help="namespace ovs-vswitchd runs in (simulated hosts)"),
        Flag(name="--netns-prefix", help="prefix of LB namespace names"),
        Flag(name="--state-dir", default="/var/lib/netledger/lb"),
        RESYNC, HEARTBEAT), _lb_agent)


def _lb_agent(args) -> int:
    from netledger.services.advanced.lb.agent import run_agent
    from netledger.services.advanced.lb.config import LbConfig

    return serve("lb-agent", run_agent, config_from(LbConfig, args), args)
