"""CLI pieces: ``l2-agent`` and ``port plug|unplug`` (``add_subcommands(subparsers)``).

Standalone: ``python -m netledger.services.l2.cli l2-agent --host H ...``.
"""

from __future__ import annotations

import json
import sys
import urllib.request

from netledger.libs.agent_cli import BUS, HOST, OVSDB, RESYNC, Flag, add_agent, config_from, serve, standalone
from netledger.services.l2.config import AgentConfig, parse_bridge_mappings


def add_subcommands(subparsers) -> None:
    add_agent(subparsers, "l2-agent", "run a host's L2 worker until SIGTERM", (
        HOST, Flag(name="--backend", default="ovs", help="ovs|openvswitch|lb|linuxbridge"), *BUS, OVSDB,
        Flag(name="--ovs-rundir", help="dir of <bridge>.mgmt (default: ovsdb's dir)"),
        Flag(name="--tunnel-ip"),
        Flag(name="--bridge-mappings", help="physnet1:br-ex[,physnet2:br-x]"),
        RESYNC,
        Flag(name="--netns", help="linuxbridge: the host's namespace (default: ours)")), _l2_agent)

    port = subparsers.add_parser("port", help="plug/unplug an instance (what os-vif does)")
    sub = port.add_subparsers(dest="port_cmd", required=True)
    plug = sub.add_parser("plug")
    _port_args(plug)
    plug.add_argument("--mac", default="", help="default: GET <api>/v2.0/ports/<id>")
    plug.add_argument("--api", default=None, help="default: the configured API (api_host:api_port)")
    plug.add_argument("--network-mtu", type=int, default=0, help="default: the network's MTU, else 1450")
    plug.set_defaults(func=_plug)
    unplug = sub.add_parser("unplug")
    _port_args(unplug)
    unplug.set_defaults(func=_unplug)


def _port_args(p) -> None:
    p.add_argument("port")
    p.add_argument("--netns", required=True, help="the instance namespace")
    p.add_argument("--host", default="", help="informational (the host the port is bound to)")
    p.add_argument("--host-netns", default=None,
                   help="namespace of the host's vswitchd (default: the all-in-one's if it runs here, else ours)")
    p.add_argument("--ovsdb", default=None,
                   help="default: the all-in-one's OVS database if it runs here, else unix:/var/run/openvswitch/db.sock")
    p.add_argument("--bridge", default="br-int")
    p.add_argument("--backend", default="ovs", help="ovs|linuxbridge (linuxbridge: no OVS, the worker attaches the tap)")


def _l2_agent(args) -> int:
    from netledger.services.l2 import mechanisms
    from netledger.services.l2.agent import run_agent

    if mechanisms.canonical(args.backend) not in mechanisms.available():
        print(f"l2-agent: backend {args.backend!r} is not available "
              f"(registered: {', '.join(mechanisms.available())})", file=sys.stderr)
        return 2
    cfg = config_from(AgentConfig, args, backend=mechanisms.canonical, bridge_mappings=parse_bridge_mappings)
    return serve("l2-agent", run_agent, cfg, args)


def _api_get(api: str, path: str) -> dict:
    with urllib.request.urlopen(f"{api.rstrip('/')}{path}", timeout=10) as resp:
        return json.load(resp)


def _dataplane_defaults(args) -> None:
    """Unset --host-netns/--ovsdb: the all-in-one's dataplane (from the configuration)
    when it runs on this host, else the system OVS in our own namespace."""
    from netledger import config
    from netledger.deploy.allinone import dataplane

    cfg = config.load(getattr(args, "config", None))
    aio = dataplane(cfg) if args.backend == "ovs" else None
    if getattr(args, "api", "") is None:
        args.api = f"http://{cfg.api_host}:{cfg.api_port}"
    if args.host_netns is None:
        args.host_netns = aio[0] if aio else ""
    if args.ovsdb is None:
        args.ovsdb = aio[1] if aio else "unix:/var/run/openvswitch/db.sock"


def _plug(args) -> int:
    from netledger.services.l2.driver_plug import PlugSpec, plug

    _dataplane_defaults(args)
    mac, mtu = args.mac, args.network_mtu
    if not mac:
        port = _api_get(args.api, f"/v2.0/ports/{args.port}")["port"]
        mac = port["mac_address"]
        if not mtu:
            mtu = _api_get(args.api, f"/v2.0/networks/{port['network_id']}")["network"].get("mtu") or 0
    spec = PlugSpec(port_id=args.port, netns=args.netns, mac=mac, mtu=mtu or 1450,
                    host_netns=args.host_netns, ovsdb=args.ovsdb, bridge=args.bridge, backend=args.backend)
    print(plug(spec))
    return 0


def _unplug(args) -> int:
    from netledger.services.l2.driver_plug import unplug

    _dataplane_defaults(args)
    unplug(args.port, args.netns, host_netns=args.host_netns, ovsdb=args.ovsdb, bridge=args.bridge,
           backend=args.backend)
    return 0


def main(argv: list[str] | None = None) -> int:
    return standalone("netledger-l2", add_subcommands, argv)


if __name__ == "__main__":
    raise SystemExit(main())
