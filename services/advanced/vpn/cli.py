"""CLI: ``vpn-agent`` (``add_subcommands(subparsers)``); standalone ``python -m netledger.services.advanced.vpn.cli``."""

from __future__ import annotations

from netledger.libs.agent_cli import BUS, HEARTBEAT, HOST, RESYNC, Flag, add_agent, config_from, serve, standalone


def add_subcommands(subparsers) -> None:
    add_agent(subparsers, "vpn-agent", "run a host's VPNaaS worker (strongSwan per router) until SIGTERM", (
        HOST, *BUS,
        Flag(name="--netns-prefix", help="prefix of router namespace names (as the l3-agent's)"),
        Flag(name="--state-dir", default="/var/lib/netledger/vpn", help="per-router charon files (0700)"),
        Flag(name="--status-interval", default=2.0, type=float),
        RESYNC, HEARTBEAT), _vpn_agent)


def _vpn_agent(args) -> int:
    from netledger.services.advanced.vpn.agent import run_agent
    from netledger.services.advanced.vpn.config import VpnConfig

    return serve("vpn-agent", run_agent, config_from(VpnConfig, args), args)


def main(argv: list[str] | None = None) -> int:
    return standalone("netledger-vpn", add_subcommands, argv)


if __name__ == "__main__":
    raise SystemExit(main())
