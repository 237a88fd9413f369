"""CLI: ``l3-agent`` (``add_subcommands(subparsers)``); standalone ``python -m netledger.services.l3.cli``."""

from __future__ import annotations

import argparse
import asyncio


def add_subcommands(subparsers) -> None:
    p = subparsers.add_parser("l3-agent", help="run a host's L3 worker (routers, NAT) until SIGTERM")
    p.add_argument("--host", required=True)
    p.add_argument("--nats", default="nats://127.0.0.1:4222")
    p.add_argument("--prefix", default="nl")
    p.add_argument("--ovsdb", default="unix:/var/run/openvswitch/db.sock")
    p.add_argument("--host-netns", default="", help="namespace ovs-vswitchd runs in (simulated hosts)")
    p.add_argument("--netns-prefix", default="", help="prefix of router namespace names")
    p.add_argument("--resync-interval", type=float, default=10.0)
    p.add_argument("--heartbeat-interval", type=float, default=10.0)
    p.set_defaults(func=_l3_agent)


def _l3_agent(args) -> int:
    from netledger import logs
    from netledger.services.l3.agent import run_agent
    from netledger.services.l3.config import L3Config

    logs.setup("l3-agent")
    cfg = L3Config(host=args.host, ovsdb=args.ovsdb, host_netns=args.host_netns, netns_prefix=args.netns_prefix,
                   resync_interval=args.resync_interval, heartbeat_interval=args.heartbeat_interval)
    asyncio.run(run_agent(cfg, nats_url=getattr(args, "nats", None) or "nats://127.0.0.1:4222",
                          prefix=getattr(args, "prefix", None) or "nl"))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="netledger-l3")
    add_subcommands(ap.add_subparsers(dest="cmd", required=True))
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
