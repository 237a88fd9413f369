"""CLI: ``dhcp-agent`` (``add_subcommands(subparsers)``; loaded by netledger.cli).

Standalone: ``python -m netledger.services.dhcp.cli dhcp-agent --host H ...``.
"""

from __future__ import annotations

from netledger.libs.agent_cli import BUS, HEARTBEAT, HOST, OVSDB, RESYNC, Flag, add_agent, config_from, serve, standalone


def add_subcommands(subparsers) -> None:
    add_agent(subparsers, "dhcp-agent", "run a host's DHCP worker (dnsmasq + metadata proxy) until SIGTERM", (
        HOST, *BUS, OVSDB,
        Flag(name="--host-netns", help="namespace where ovs-vswitchd runs (simulated hosts)"),
        Flag(name="--bridge", default="br-int"),
        Flag(name="--state-dir", help="default: /var/lib/netledger/dhcp/<host>"),
        Flag(name="--netns-prefix", help="namespaces are <prefix>qdhcp-<network>"),
        Flag(name="--metadata-backend", help="URL the metadata proxy forwards to (default: built-in)"),
        RESYNC, HEARTBEAT), _dhcp_agent)


def _dhcp_agent(args) -> int:
    from netledger.services.dhcp.agent import run_agent
    from netledger.services.dhcp.config import DhcpAgentConfig

    return serve("dhcp-agent", run_agent, config_from(DhcpAgentConfig, args), args)


def main(argv: list[str] | None = None) -> int:
    return standalone("netledger-dhcp", add_subcommands, argv)


if __name__ == "__main__":
    raise SystemExit(main())
