"""CLI: ``vpn-agent`` (``add_subcommands(subparsers)``); standalone ``python -m netledger.services.advanced.vpn.cli``."""

from __future__ import annotations

import argparse
import asyncio


def add_subcommands(subparsers) -> None:
    p = subparsers.add_parser("vpn-agent", help="run a host's VPNaaS worker (strongSwan per router) until SIGTERM")
    p.add_argument("--host", required=True)
    p.add_argument("--nats", default="nats://127.0.0.1:4222")
    p.add_argument("--prefix", default="nl")
    p.add_argument("--netns-prefix", default="", help="prefix of router namespace names (as the l3-agent's)")
    p.add_argument("--state-dir", default="/var/lib/netledger/vpn", help="per-router charon files (0700)")
    p.add_argument("--status-interval", type=float, default=2.0)
    p.add_argument("--resync-interval", type=float, default=10.0)
    p.add_argument("--heartbeat-interval", type=float, default=10.0)
    p.set_defaults(func=_vpn_agent)


def _vpn_agent(args) -> int:
    from netledger import logs
    from netledger.services.advanced.vpn.agent import run_agent
    from netledger.services.advanced.vpn.config import VpnConfig

    logs.setup("vpn-agent")
    cfg = VpnConfig(host=args.host, netns_prefix=args.netns_prefix, state_dir=args.state_dir,
                    status_interval=args.status_interval, resync_interval=args.resync_interval,
                    heartbeat_interval=args.heartbeat_interval)
    asyncio.run(run_agent(cfg, nats_url=getattr(args, "nats", None) or "nats://127.0.0.1:4222",
                          prefix=getattr(args, "prefix", None) or "nl"))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="netledger-vpn")
    add_subcommands(ap.add_subparsers(dest="cmd", required=True))
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
