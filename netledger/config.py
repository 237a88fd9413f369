"""Configuration: a TOML file plus NETLEDGER_* environment variables (env wins).

Looked up in order: ``--config`` / ``$NETLEDGER_CONFIG``, ``./netledger.toml``,
``/etc/netledger/netledger.toml``. Without ``nats_url`` the all-in-one starts an
embedded nats-server under ``var_dir``; with it, every service uses that server or
cluster (comma-separated URLs).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass
class Config:
    nats_url: str = ""
    nats_user: str = ""
    nats_password: str = ""
    nats_creds: str = ""
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


def _coerce(kind, raw: str):
    if kind is bool or kind == "bool":
        return raw.lower() in ("1", "true", "yes", "on")
    if kind is int or kind == "int":
        return int(raw)
    if kind is float or kind == "float":
        return float(raw)
    if "list" in str(kind):
        return [x.strip() for x in raw.split(",") if x.strip()]
    return raw


def load(path: str | None = None, **overrides) -> Config:
    cfg = Config()
    candidates = [path, os.environ.get("NETLEDGER_CONFIG"), "netledger.toml", "/etc/netledger/netledger.toml"]
    for cand in candidates:
        if cand and Path(cand).is_file():
            with open(cand, "rb") as fh:
                data = tomllib.load(fh)
            for key, value in data.get("netledger", data).items():
                if hasattr(cfg, key):
                    setattr(cfg, key, value)
            break
    for f in fields(cfg):
        env = os.environ.get(f"NETLEDGER_{f.name.upper()}")
        if env is not None:
            setattr(cfg, f.name, _coerce(f.type, env))
    for key, value in overrides.items():
        if value is not None:
            setattr(cfg, key, value)
    return cfg


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
