"""Configuration: a typed schema, a TOML file and NETLEDGER_* environment variables.

Precedence: defaults < file < ``NETLEDGER_<KEY>`` < command-line flags. The file is
looked up in order: ``--config`` / ``$NETLEDGER_CONFIG``, ``./netledger.toml``,
``/etc/netledger/netledger.toml``. :class:`Config` is the one place a key is declared:
its annotation is the key's type, and anything the schema does not know (a misspelled
``auth_strateg``) or a value of the wrong type stops the process with an error naming
the key and the file (or the variable), instead of silently running with the default.
Without ``nats_url`` the all-in-one starts an embedded nats-server under ``var_dir``;
with it, every service uses that server or cluster (comma-separated URLs).
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import tomllib
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path


class ConfigError(ValueError):
    """A configuration the process must not start with (message names key and source)."""


# Keys whose value is one of a fixed set (checked like a type).
CHOICES = {"auth_strategy": ("noauth", "keystone")}
SECRET_KEYS = frozenset({"nats_password", "keystone_service_password"})


@dataclass
class Config:
    nats_url: str = ""
    nats_user: str = ""
    nats_password: str = ""
    nats_creds: str = ""
    # Embedded server only: require per-service users (generated under
    # <var_dir>/secrets) so a worker host's credentials reach only its own subjects.
    nats_auth: bool = True
    prefix: str = "nl"
    var_dir: str = "./var"
    api_host: str = "127.0.0.1"
    api_port: int = 9696
    api_workers: int = 1
    db_path: str = ""
    projection_name: str = "topology"
    # Exactly one topology per deployment should publish worker intents.
    publish_intents: bool = True
    default_project: str = "admin"
    noauth_default_admin: bool = True
    # noauth + noauth_default_admin makes every caller admin: the API then binds to
    # loopback only, unless this is set to say "yes, expose it anyway".
    noauth_allow_remote: bool = False
    mac_base: str = "fa:16:3e:00:00:00"
    tenant_network_types: list[str] = field(default_factory=lambda: ["vxlan"])
    vni_range: str = "1:65535"
    gre_range: str = "1:65535"
    geneve_range: str = "1:65535"
    vlan_ranges: str = "physnet1:100:199"
    flat_networks: str = "physnet1"
    physical_mtu: int = 1500
    max_body_bytes: int = 1_048_576
    agent_down_time: float = 30.0
    nats_port: int = 4222
    # The all-in-one's dataplane namespace and the prefix of its agents' namespaces:
    # distinct values let a second all-in-one (e.g. the e2e test) share the machine.
    aio_netns: str = "netledger-aio"
    aio_netns_prefix: str = "nlaio-"
    nats_sync_always: bool = True
    # Identity and access (services/api/auth): "noauth" trusts X-Project-Id/X-Roles
    # headers; "keystone" validates X-Auth-Token against keystone_url as the service user.
    auth_strategy: str = "noauth"
    keystone_url: str = ""
    keystone_service_user: str = "neutron"
    keystone_service_password: str = ""
    keystone_service_project: str = "service"
    keystone_service_user_domain: str = "Default"
    keystone_service_project_domain: str = "Default"
    # Seconds a validated token is trusted without asking Keystone again (the bound on
    # how long a revoked token keeps working); never beyond the token's expires_at.
    token_cache_ttl: float = 30.0
    policy_file: str = ""
    # Default quotas per project (-1 = unlimited, the default here; Neutron ships
    # network 100, subnet 100, port 500, router 10, floatingip 50, security_group 10,
    # security_group_rule 100, rbac_policy 10 - set these keys to match it).
    quota_network: int = -1
    quota_subnet: int = -1
    quota_port: int = -1
    quota_router: int = -1
    quota_floatingip: int = -1
    quota_security_group: int = -1
    quota_security_group_rule: int = -1
    quota_rbac_policy: int = -1
    # Other interfaces of the API process (services/interfaces.py). gRPC netledger.v1
    # on grpc_host:grpc_port (0 = off); NATS request/reply commands on <prefix>.cmd.>.
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 9698
    bus_commands: bool = True
    # Nova external events (services/nova): off unless nova_url is set, e.g.
    # "http://nova:8774". The service user's token comes from nova_keystone_url
    # (default keystone_url); events are batched every nova_send_events_interval s.
    nova_url: str = ""
    nova_keystone_url: str = ""
    nova_user: str = "neutron"
    nova_password: str = ""
    nova_project: str = "service"
    nova_user_domain: str = "Default"
    nova_project_domain: str = "Default"
    nova_send_events_interval: float = 2.0

    @property
    def embedded_nats(self) -> bool:
        return not self.nats_url

    @property
    def effective_nats_url(self) -> str:
        return self.nats_url or f"nats://127.0.0.1:{self.nats_port}"

    @property
    def effective_db_path(self) -> str:
        return self.db_path or os.path.join(self.var_dir, f"{self.projection_name}.db")


def schema() -> dict[str, type]:
    """Key -> declared type, read from Config's annotations (the one declaration)."""
    return typing.get_type_hints(Config)


def _type_name(kind) -> str:
    return "list of strings" if typing.get_origin(kind) is list else kind.__name__


def _check_value(key: str, value, where: str):
    """Value as written in TOML, checked against the key's type (int is a fine float)."""
    kind = schema()[key]
    ok = (all(isinstance(v, str) for v in value) if isinstance(value, list) else False) \
        if typing.get_origin(kind) is list else \
        (isinstance(value, (int, float)) and not isinstance(value, bool)) if kind is float else \
        (isinstance(value, int) and not isinstance(value, bool)) if kind is int else isinstance(value, kind)
    if not ok:
        raise ConfigError(f"{where}: key {key!r} must be a {_type_name(kind)}, not {type(value).__name__} {value!r}")
    return _check_choice(key, float(value) if kind is float else value, where)


def _check_choice(key: str, value, where: str):
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"{where}: key {key!r} must be one of {', '.join(CHOICES[key])}, not {value!r}")
    return value


def _parse_env(key: str, raw: str, var: str):
    """A NETLEDGER_<KEY> string parsed to the key's type; a bad value names the variable."""
    kind = schema()[key]
    where = f"environment variable {var}"
    if typing.get_origin(kind) is list:
        return [x.strip() for x in raw.split(",") if x.strip()]
    if kind is bool:
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{where}: {raw!r} is not a boolean (true/false, 1/0, yes/no, on/off)")
    if kind in (int, float):
        try:
            return _check_choice(key, kind(raw), where)
        except ValueError:
            raise ConfigError(f"{where}: {raw!r} is not a valid {kind.__name__} (key {key!r})") from None
    return _check_choice(key, raw, where)


def _read_file(path: str) -> dict:
    """The file's keys (flat, or under a ``[netledger]`` table), each checked."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    table = data.get("netledger", data) if set(data) <= {"netledger"} else data
    known = schema()
    out = {}
    for key, value in table.items():
        if key not in known:
            near = difflib.get_close_matches(key, list(known), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(f"{path}: unknown key {key!r}{hint}")
        out[key] = _check_value(key, value, path)
    return out


def config_file(path: str | None = None) -> str | None:
    """The file in use: an explicit one must exist; the default locations may not."""
    explicit = path or os.environ.get("NETLEDGER_CONFIG")
    if explicit:
        if not Path(explicit).is_file():
            raise ConfigError(f"{explicit}: configuration file not found")
        return explicit
    return next((c for c in ("netledger.toml", "/etc/netledger/netledger.toml") if Path(c).is_file()), None)


def load_with_sources(path: str | None = None, **overrides) -> tuple[Config, dict[str, str]]:
    """The effective configuration and, per key, where its value came from."""
    cfg = Config()
    sources = {f.name: "default" for f in fields(cfg)}
    found = config_file(path)
    if found:
        for key, value in _read_file(found).items():
            setattr(cfg, key, value)
            sources[key] = f"file {os.path.abspath(found)}"
    for key in schema():
        var = f"NETLEDGER_{key.upper()}"
        if (raw := os.environ.get(var)) is not None:
            setattr(cfg, key, _parse_env(key, raw, var))
            sources[key] = f"env {var}"
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, value)
            sources[key] = "command line"
    return cfg, sources


def load(path: str | None = None, **overrides) -> Config:
    return load_with_sources(path, **overrides)[0]


def render_effective(cfg: Config, sources: dict[str, str]) -> str:
    """TOML-shaped listing, one key a line with its source; secrets are masked."""
    lines = []
    for key in schema():
        value = getattr(cfg, key)
        if key in SECRET_KEYS and value:
            shown = '"********"'
        elif isinstance(value, bool):
            shown = str(value).lower()
        elif isinstance(value, list):
            shown = "[" + ", ".join(f'"{v}"' for v in value) + "]"
        elif isinstance(value, str):
            shown = f'"{value}"'
        else:
            shown = repr(value)
        lines.append(f"{key} = {shown}  # {sources.get(key, 'default')}")
    return "\n".join(lines) + "\n"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def noauth_exposure(cfg: Config) -> tuple[str, list[str]]:
    """The API's bind host and the warnings to log at start (pure).

    With noauth and noauth_default_admin every request without headers is admin: the
    API binds to loopback unless ``noauth_allow_remote`` says otherwise."""
    if cfg.auth_strategy != "noauth" or not cfg.noauth_default_admin:
        return cfg.api_host, []
    warnings = ["auth_strategy=noauth with noauth_default_admin: every caller without headers is admin"]
    if is_loopback(cfg.api_host) or cfg.noauth_allow_remote:
        return cfg.api_host, warnings
    warnings.append(f"api_host {cfg.api_host!r} is not loopback: binding to 127.0.0.1 instead "
                    "(set noauth_allow_remote = true to expose it anyway)")
    return "127.0.0.1", warnings


def segment_config(cfg: Config):
    from netledger.services.api.deciders.segments import SegmentConfig

    def rng(s: str) -> tuple[int, int]:
        lo, hi = s.split(":")
        return int(lo), int(hi)

    vlan = {}
    for item in filter(None, (x.strip() for x in cfg.vlan_ranges.split(","))):
        physnet, lo, hi = item.split(":")
        vlan[physnet] = (int(lo), int(hi))
    return SegmentConfig(
        tenant_network_types=tuple(cfg.tenant_network_types),
        ranges={"vxlan": rng(cfg.vni_range), "gre": rng(cfg.gre_range), "geneve": rng(cfg.geneve_range)},
        vlan_ranges=vlan, flat_networks=tuple(x.strip() for x in cfg.flat_networks.split(",") if x.strip()),
        physical_mtu=cfg.physical_mtu,
    )
