"""CLI: ``dhcp-agent`` (``add_subcommands(subparsers)``; loaded by netledger.cli).

Standalone: ``python -m netledger.services.dhcp.cli dhcp-agent --host H ...``.
"""

from __future__ import annotations

import argparse
import asyncio


def add_subcommands(subparsers) -> None:
    p = subparsers.add_parser("dhcp-agent", help="run a host's DHCP worker (dnsmasq + metadata proxy) until SIGTERM")
    p.add_argument("--host", required=True)
    p.add_argument("--nats", default="nats://127.0.0.1:4222")
    p.add_argument("--prefix", default="nl")
    p.add_argument("--ovsdb", default="unix:/var/run/openvswitch/db.sock")
    p.add_argument("--host-netns", default="", help="namespace where ovs-vswitchd runs (simulated hosts)")
    p.add_argument("--bridge", default="br-int")
    p.add_argument("--state-dir", default="", help="default: /var/lib/netledger/dhcp/<host>")
    p.add_argument("--netns-prefix", default="", help="namespaces are <prefix>qdhcp-<network>")
    p.add_argument("--metadata-backend", default="", help="URL the metadata proxy forwards to (default: built-in)")
    p.add_argument("--resync-interval", type=float, default=10.0)
    p.add_argument("--heartbeat-interval", type=float, default=10.0)
    p.set_defaults(func=_dhcp_agent)


def _dhcp_agent(args) -> int:
    from netledger import logs
    from netledger.services.dhcp.agent import run_agent
    from netledger.services.dhcp.config import DhcpAgentConfig

    logs.setup("dhcp-agent")
    cfg = DhcpAgentConfig(host=args.host, ovsdb=args.ovsdb, host_netns=args.host_netns, bridge=args.bridge,
                          state_dir=args.state_dir, netns_prefix=args.netns_prefix,
                          metadata_backend=args.metadata_backend, resync_interval=args.resync_interval,
                          heartbeat_interval=args.heartbeat_interval)
    asyncio.run(run_agent(cfg, nats_url=args.nats, prefix=args.prefix))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="netledger-dhcp")
    add_subcommands(ap.add_subparsers(dest="cmd", required=True))
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
