"""CLI: ``l3-agent`` (``add_subcommands(subparsers)``); standalone ``python -m netledger.services.l3.cli``."""

from __future__ import annotations

from netledger.libs.agent_cli import BUS, HEARTBEAT, HOST, OVSDB, RESYNC, Flag, add_agent, config_from, serve, standalone


def add_subcommands(subparsers) -> None:
    add_agent(subparsers, "l3-agent", "run a host's L3 worker (routers, NAT) until SIGTERM", (
        HOST, *BUS, OVSDB,
        Flag(name="--host-netns", help="namespace ovs-vswitchd runs in (simulated hosts)"),
        Flag(name="--netns-prefix", help="prefix of router namespace names"),
        RESYNC, HEARTBEAT), _l3_agent)


def _l3_agent(args) -> int:
    from netledger.services.l3.agent import run_agent
    from netledger.services.l3.config import L3Config

    return serve("l3-agent", run_agent, config_from(L3Config, args), args)


def main(argv: list[str] | None = None) -> int:
    return standalone("netledger-l3", add_subcommands, argv)


if __name__ == "__main__":
    raise SystemExit(main())
