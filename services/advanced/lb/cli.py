"""CLI: ``lb-agent`` (``add_subcommands(subparsers)``)."""

from __future__ import annotations

import asyncio


def add_subcommands(subparsers) -> None:
    p = subparsers.add_parser("lb-agent", help="run a host's load balancer worker (HAProxy) until SIGTERM")
    p.add_argument("--host", required=True)
    p.add_argument("--nats", default="nats://127.0.0.1:4222")
    p.add_argument("--prefix", default="nl")
    p.add_argument("--ovsdb", default="unix:/var/run/openvswitch/db.sock")
    p.add_argument("--host-netns", default="", help="namespace ovs-vswitchd runs in (simulated hosts)")
    p.add_argument("--netns-prefix", default="", help="prefix of LB namespace names")
    p.add_argument("--state-dir", default="/var/lib/netledger/lb")
    p.add_argument("--resync-interval", type=float, default=10.0)
    p.add_argument("--heartbeat-interval", type=float, default=10.0)
    p.set_defaults(func=_lb_agent)


def _lb_agent(args) -> int:
    from netledger import logs
    from netledger.services.advanced.lb.agent import run_agent
    from netledger.services.advanced.lb.config import LbConfig

    logs.setup("lb-agent")
    cfg = LbConfig(host=args.host, ovsdb=args.ovsdb, host_netns=args.host_netns, netns_prefix=args.netns_prefix,
                   state_dir=args.state_dir, resync_interval=args.resync_interval,
                   heartbeat_interval=args.heartbeat_interval)
    asyncio.run(run_agent(cfg, nats_url=getattr(args, "nats", None) or "nats://127.0.0.1:4222",
                          prefix=getattr(args, "prefix", None) or "nl"))
    return 0
