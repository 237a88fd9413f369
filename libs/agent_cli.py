"""One command-line path for every host agent (``netledger l3-agent ...``).

Each agent declares only its own flags; ``--host``, ``--nats``, ``--prefix`` and the
intervals are declared here once. A flag's dest is the config field it sets, so the
config is built from the parsed flags by field name (``config_from``), with a
per-agent ``convert`` for values that need parsing (bridge mappings).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any, Callable

import msgspec

NATS_DEFAULT = "nats://127.0.0.1:4222"


class Flag(msgspec.Struct, frozen=True, kw_only=True):
    name: str                          # "--host-netns"
    default: Any = ""
    type: Callable[[str], Any] = str
    help: str | None = None
    required: bool = False


HOST = Flag(name="--host", required=True)
BUS = (Flag(name="--nats", default=NATS_DEFAULT), Flag(name="--prefix", default="nl"))
OVSDB = Flag(name="--ovsdb", default="unix:/var/run/openvswitch/db.sock")
RESYNC = Flag(name="--resync-interval", default=10.0, type=float)
HEARTBEAT = Flag(name="--heartbeat-interval", default=10.0, type=float)


def add_agent(subparsers, command: str, help: str, flags: tuple[Flag, ...],
              start: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
    """Register ``command`` with ``flags`` (in order, help text as given)."""
    p = subparsers.add_parser(command, help=help)
    for f in flags:
        kw = {"required": True} if f.required else {"default": f.default, "type": f.type}
        p.add_argument(f.name, help=f.help, **kw)
    p.set_defaults(func=start)
    return p


def config_from(cls: type, args: argparse.Namespace, **convert: Callable[[Any], Any]) -> Any:
    """The config struct ``cls`` from the flags whose dest is one of its fields."""
    values = {}
    for field in msgspec.structs.fields(cls):
        if hasattr(args, field.name):
            value = getattr(args, field.name)
            values[field.name] = convert[field.name](value) if field.name in convert else value
    return cls(**values)


def serve(name: str, run: Callable[..., Any], cfg: Any, args: argparse.Namespace) -> int:
    """Set up logging and run ``run(cfg, nats_url=..., prefix=...)`` until SIGTERM."""
    from netledger import logs

    logs.setup(name)
    asyncio.run(run(cfg, nats_url=args.nats or NATS_DEFAULT, prefix=args.prefix or "nl"))
    return 0


def standalone(prog: str, add_subcommands: Callable[[Any], None], argv: list[str] | None) -> int:
    """``python -m netledger.services.<x>.cli``: the same subcommands without netledger's CLI."""
    ap = argparse.ArgumentParser(prog=prog)
    add_subcommands(ap.add_subparsers(dest="cmd", required=True))
    args = ap.parse_args(argv)
    return args.func(args)
