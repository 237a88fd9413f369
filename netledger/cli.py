"""The ``netledger`` command: one entry point for every service and tool."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from netledger import config as config_mod
from netledger import logs
from netledger.optional import import_optional


WORKER_CLIS = ("l2", "l3", "dhcp", "advanced")


def _cfg(args) -> config_mod.Config:
    cfg = config_mod.load(getattr(args, "config", None), nats_url=getattr(args, "nats", None),
                          prefix=getattr(args, "prefix", None))
    _embedded_credentials(cfg)
    return cfg


def _embedded_credentials(cfg: config_mod.Config) -> None:
    """Tools run against the all-in-one's embedded server (tail, janitor, rebuild)
    connect as its admin user unless told otherwise."""
    from netledger.deploy import nats_auth

    if not cfg.embedded_nats or not cfg.nats_auth or cfg.nats_user or cfg.nats_creds:
        return
    admin = nats_auth.credentials_path(os.path.join(os.path.abspath(cfg.var_dir), "secrets"), "admin")
    if os.path.exists(admin):
        os.environ.setdefault("NETLEDGER_NATS_CREDENTIALS", admin)


def cmd_deploy_nats_auth(args) -> None:
    """Users and credentials for a multi-host deployment; the server config includes the block."""
    from netledger.deploy import nats_auth

    cfg = _cfg(args)
    hosts = [h.strip() for h in args.hosts.split(",") if h.strip()]
    users = nats_auth.ensure_credentials(args.secrets_dir, prefix=cfg.prefix, hosts=hosts)
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(nats_auth.render_authorization(users))
    sys.stdout.write(f"wrote {args.out} (include it from every nats-server config); credentials:\n")
    for user in users:
        sys.stdout.write(f"  {user.name}: {nats_auth.credentials_path(args.secrets_dir, user.name)}\n")


def _guard_noauth(cfg: config_mod.Config, service: str) -> None:
    """noauth + default admin: say so at start, and keep the API on loopback."""
    import structlog

    cfg.api_host, warnings = config_mod.noauth_exposure(cfg)
    for warning in warnings:
        structlog.get_logger(service).warning(warning, api_host=cfg.api_host)


def cmd_config_check(args) -> None:
    cfg, sources = config_mod.load_with_sources(getattr(args, "config", None), nats_url=getattr(args, "nats", None),
                                                prefix=getattr(args, "prefix", None))
    found = config_mod.config_file(getattr(args, "config", None))
    sys.stdout.write(f"# configuration file: {os.path.abspath(found) if found else '(none)'}\n")
    sys.stdout.write(config_mod.render_effective(cfg, sources))
    for warning in config_mod.noauth_exposure(cfg)[1]:
        sys.stdout.write(f"# warning: {warning}\n")


def _run(coro) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(coro)
    except KeyboardInterrupt:
        pass


def cmd_api(args) -> None:
    from netledger.services.api.app import serve

    logs.setup("api")
    cfg = _cfg(args)
    if args.port:
        cfg.api_port = args.port
    if args.db:
        cfg.db_path = args.db
    _guard_noauth(cfg, "api")
    _run(serve(cfg))


def cmd_topology(args) -> None:
    from netledger.services.topology.service import serve

    logs.setup("topology")
    cfg = _cfg(args)
    if args.name:
        cfg.projection_name = args.name
    if args.db:
        cfg.db_path = args.db
    _run(serve(cfg))


def cmd_rebuild(args) -> None:
    from netledger.services.topology.service import dumps, print_progress, rebuild

    logs.setup("rebuild")
    figures = asyncio.run(rebuild(_cfg(args), args.db, progress=print_progress))
    sys.stdout.write(dumps(figures) + "\n")


def cmd_tail(args) -> None:
    from netledger.tools.tail import tail

    logs.setup("tail")
    _run(tail(_cfg(args), subject=args.subject, since=args.since, follow=not args.no_follow,
              stream_key=args.stream))


def cmd_janitor(args) -> None:
    from netledger.services.api.janitor import sweep_once

    logs.setup("janitor")
    cfg = _cfg(args)
    released = asyncio.run(sweep_once(cfg, grace_s=args.grace))
    sys.stdout.write(f"released {released} orphaned claims\n")


def cmd_secrets_migrate(args) -> None:
    from netledger.tools.secrets_migrate import migrate

    logs.setup("secrets")
    cfg = _cfg(args)
    done, skipped = asyncio.run(migrate(cfg, args.db or cfg.effective_db_path()))
    sys.stdout.write(f"resealed {done} secrets, {skipped} skipped (changed meanwhile: run again)\n")
    if skipped:
        sys.exit(1)


def cmd_up(args) -> None:
    from netledger.deploy.allinone import up

    logs.setup("up")
    cfg = _cfg(args)
    _guard_noauth(cfg, "up")
    up(cfg, detach=args.detach, l2=not args.no_l2, config_path=getattr(args, "config", None))


def cmd_down(args) -> None:
    from netledger.deploy.allinone import down

    logs.setup("up")
    down(_cfg(args))


def cmd_status(args) -> None:
    from netledger.deploy.allinone import status

    raise SystemExit(status(_cfg(args)))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="netledger", description=__doc__)
    p.add_argument("--config", help="TOML config file (default: ./netledger.toml, /etc/netledger/netledger.toml)")
    p.add_argument("--nats", help="NATS URL(s), comma separated (default: embedded server)")
    p.add_argument("--prefix", help="subject prefix (default nl)")
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("up", help="start the all-in-one (embedded NATS, topology, API, every local worker)")
    s.add_argument("--detach", action="store_true", help="return once ready; stop with `netledger down`")
    s.add_argument("--no-l2", action="store_true", help="no local dataplane (no OVS, no workers): API only")
    s.set_defaults(func=cmd_up)
    s = sub.add_parser("down", help="stop a detached all-in-one")
    s.set_defaults(func=cmd_down)
    s = sub.add_parser("status", help="the all-in-one's services and workers, and the agents the API sees")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("config", help="configuration tools")
    csub = s.add_subparsers(dest="ccmd", required=True)
    c = csub.add_parser("check", help="validate the configuration; print every key with its source")
    c.set_defaults(func=cmd_config_check)

    s = sub.add_parser("deploy", help="deployment tools")
    dsub = s.add_subparsers(dest="dcmd", required=True)
    d = dsub.add_parser("nats-auth", help="generate NATS users (api, topology, admin, one per worker host)")
    d.add_argument("--hosts", required=True, help="worker host names, comma separated")
    d.add_argument("--secrets-dir", required=True, help="where the 0600 credentials files go")
    d.add_argument("--out", required=True, help="authorization block to include in nats-server configs")
    d.set_defaults(func=cmd_deploy_nats_auth)

    s = sub.add_parser("api", help="run the Neutron v2.0 API server")
    s.add_argument("--port", type=int)
    s.add_argument("--db", help="projection database to read")
    s.set_defaults(func=cmd_api)

    s = sub.add_parser("topology", help="run the projection (events -> SQLite)")
    s.add_argument("--name", help="projection name (one durable consumer and database per name)")
    s.add_argument("--db", help="database path")
    s.set_defaults(func=cmd_topology)

    s = sub.add_parser("projection", help="projection tools")
    psub = s.add_subparsers(dest="pcmd", required=True)
    r = psub.add_parser("rebuild", help="fold the whole stream into a fresh database")
    r.add_argument("--db", required=True, help="path of the new database (must not exist)")
    r.set_defaults(func=cmd_rebuild)

    s = sub.add_parser("secrets", help="secret tools")
    ssub = s.add_subparsers(dest="scmd", required=True)
    m = ssub.add_parser("migrate", help="reseal PSKs of connections written before sealing (see README)")
    m.add_argument("--db", help="the projection to scan (default: this deployment's)")
    m.set_defaults(func=cmd_secrets_migrate)

    s = sub.add_parser("janitor", help="release claims no resource uses (one sweep)")
    s.add_argument("--grace", type=float, default=120.0, help="only claims older than this many seconds")
    s.set_defaults(func=cmd_janitor)

    s = sub.add_parser("events", help="event tools")
    esub = s.add_subparsers(dest="ecmd", required=True)
    t = esub.add_parser("tail", help="print events as they are committed")
    t.add_argument("--subject", default=None, help="subject filter, e.g. 'nl.evt.port.>'")
    t.add_argument("--since", type=int, default=0, help="start at this sequence (default: new events only)")
    t.add_argument("--no-follow", action="store_true", help="stop at the current end of the stream")
    t.add_argument("--stream", choices=["events", "status", "dlq"], default="events")
    t.set_defaults(func=cmd_tail)

    for family in WORKER_CLIS:
        # Each worker family registers its own subcommands (l2-agent, l3-agent, ...).
        module = import_optional(f"netledger.services.{family}.cli")
        if module:
            module.add_subcommands(sub)
    return p


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    _apply_global_flags(parser, argv, args)
    try:
        args.func(args)
    except config_mod.ConfigError as exc:
        # A wrong configuration stops the process before anything starts.
        sys.stderr.write(f"netledger: configuration error: {exc}\n")
        raise SystemExit(2) from None


def _apply_global_flags(parser: argparse.ArgumentParser, argv: list[str], args) -> None:
    """``netledger --nats URL l2-agent ...``: worker subcommands declare their own --nats and
    --prefix, whose defaults would silently replace the global flags; a global flag wins
    unless the same flag is repeated after the subcommand."""
    commands = set()
    for action in parser._subparsers._group_actions:  # the one subparsers action
        commands |= set(action.choices)
    split = next((i for i, tok in enumerate(argv) if tok in commands), len(argv))
    head, tail = argv[:split], argv[split:]
    for flag, dest in (("--nats", "nats"), ("--prefix", "prefix")):
        if flag in head and flag not in tail and hasattr(args, dest):
            setattr(args, dest, head[head.index(flag) + 1])


if __name__ == "__main__":
    main()
