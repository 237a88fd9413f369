"""NATS as a trust boundary: per-service and per-worker-host users with permissions.

A worker host's user may only: watch its own intent keys (``$KV.<bucket>.<host>.>``,
through consumers whose filter is in the create subject, which the server checks
against the consumer's config), publish status reports, and receive replies on its
own inbox prefix (``_INBOX.<user>``; the default ``_INBOX.>`` would let it read every
other client's replies and KV deliveries). Everything else is refused by the server:
API events and claims, other hosts' intents, the events stream.

The API, topology and tools users are the control plane and keep full access.
Render functions are pure; :func:`ensure_credentials` is the one writer (0600 files).
"""

from __future__ import annotations

import os
import secrets
import tomllib

import msgspec

from netledger.libs.events.subjects import host_token

from netledger.libs.secret_store import secrets_bucket

from .streams import kv_buckets

SERVICE_USERS = ("api", "topology", "admin")


class NatsUser(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    password: str
    publish: tuple[str, ...] = (">",)
    subscribe: tuple[str, ...] = (">",)
    inbox_prefix: str = "_INBOX"


def worker_user_name(host: str) -> str:
    return f"host-{host_token(host)}"


def worker_permissions(host: str, prefix: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(publish allow, subscribe allow, inbox prefix) for the workers of one host."""
    token, inbox = host_token(host), f"_INBOX.{worker_user_name(host)}"
    publish = [f"{prefix}.status.>", "$JS.API.INFO"]
    for bucket in kv_buckets(prefix):
        stream = f"KV_{bucket}"
        publish += [
            f"$JS.API.STREAM.INFO.{stream}",
            # Ordered consumers (KV watch) name the filter in the subject: only ours.
            f"$JS.API.CONSUMER.CREATE.{stream}.*.$KV.{bucket}.{token}.>",
            f"$JS.API.CONSUMER.INFO.{stream}.*",          # named subscribe looks first
            f"$JS.API.CONSUMER.DELETE.{stream}.*",        # ordered consumer reset
            f"$JS.FC.{stream}.>",                          # flow-control replies
        ]
    # The VPN worker opens sealed PSKs: read-only direct gets on the secrets bucket (any
    # key: key ids are connection ids, which carry no host to scope them by).
    secrets = f"KV_{secrets_bucket(prefix)}"
    publish += [f"$JS.API.STREAM.INFO.{secrets}", f"$JS.API.DIRECT.GET.{secrets}.>",
                f"$JS.API.STREAM.MSG.GET.{secrets}"]
    return tuple(publish), (f"{inbox}.>",), inbox


def worker_user(host: str, password: str, prefix: str) -> NatsUser:
    publish, subscribe, inbox = worker_permissions(host, prefix)
    return NatsUser(name=worker_user_name(host), password=password, publish=publish, subscribe=subscribe,
                    inbox_prefix=inbox)


def _list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(msgspec.json.encode(i).decode() for i in items) + "]"


def render_authorization(users: list[NatsUser]) -> str:
    """The nats-server ``authorization`` block (JSON strings are valid NATS conf strings)."""
    lines = ["authorization {", "  users = ["]
    for u in users:
        lines.append(f"    {{user: {msgspec.json.encode(u.name).decode()}, "
                     f"password: {msgspec.json.encode(u.password).decode()}, "
                     f"permissions: {{publish: {{allow: {_list(u.publish)}}}, "
                     f"subscribe: {{allow: {_list(u.subscribe)}}}}}}}")
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def render_credentials(user: NatsUser) -> str:
    """What a process needs to connect as ``user`` (read by libs/bus.py)."""
    return "".join(f"{k} = {msgspec.json.encode(v).decode()}\n"
                   for k, v in (("user", user.name), ("password", user.password), ("inbox_prefix", user.inbox_prefix)))


def load_credentials(path: str) -> dict[str, str]:
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    return {k: str(data.get(k, "")) for k in ("user", "password", "inbox_prefix")}


def credentials_path(secrets_dir: str, user: str) -> str:
    return os.path.join(secrets_dir, "nats", f"{user}.creds.toml")


def _write_private(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(path + ".new", path)


def ensure_credentials(secrets_dir: str, *, prefix: str, hosts: list[str]) -> list[NatsUser]:
    """Users for the control plane and each worker host; passwords are generated once
    and reused (re-running keeps every deployed credentials file valid)."""
    users = []
    wanted = [(name, None) for name in SERVICE_USERS] + [(worker_user_name(h), h) for h in hosts]
    for name, host in wanted:
        path = credentials_path(secrets_dir, name)
        password = load_credentials(path)["password"] if os.path.exists(path) else secrets.token_urlsafe(24)
        user = worker_user(host, password, prefix) if host else NatsUser(name=name, password=password)
        _write_private(path, render_credentials(user))
        users.append(user)
    return users
