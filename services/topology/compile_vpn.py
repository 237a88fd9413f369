"""Rows -> the VPN intent of one router on its scheduled host (pure), and its publisher.

A router compiles to a key ``<host>.vpn.<router>`` in bucket NL_VPN when it is
scheduled, has a gateway address, and carries at least one admin-up VPN service;
the value lists every admin-up site connection of those services with its policies,
local CIDRs (endpoint-group subnets or the service's subnet) and peer CIDRs.
Anything else compiles to no key: the worker then stops charon for that router.
Output is sorted, so equal inputs give byte-equal values (publishing is idempotent).

The publisher (the one I/O part) recompiles every VPN router whenever the events
checkpoint moved -- VPN routers are few and a recompile is a handful of small
queries -- and writes only keys whose bytes changed.
"""

from __future__ import annotations

import ipaddress

import msgspec
import structlog

from netledger.deploy.streams import kv_buckets
from netledger.libs.events.base import Struct
from netledger.libs.events.subjects import host_token
from netledger.libs.events.vpnaas import (
    VPN_BUCKET, IkePolicy, IpsecPolicy, SiteConnection, VpnConnectionIntent, VpnIntent, vpn_key,
)

from .publish import write_diff

log = structlog.get_logger("topology.vpn")
_enc = msgspec.json.Encoder()
_dec = msgspec.json.decode


class VpnInputs(Struct, frozen=True, kw_only=True):
    """What the compiler reads: plain bodies from the projection."""

    router: dict
    host: str = ""
    services: tuple[dict, ...] = ()
    connections: tuple[dict, ...] = ()
    ikepolicies: dict[str, dict] = {}
    ipsecpolicies: dict[str, dict] = {}
    groups: dict[str, dict] = {}
    subnet_cidrs: dict[str, str] = {}


def gateway_v4(router: dict) -> str:
    info = router.get("external_gateway_info") or {}
    return next((f["ip_address"] for f in info.get("external_fixed_ips", [])
                 if ipaddress.ip_address(f["ip_address"]).version == 4), "")


def _policy(cls, body: dict):
    return msgspec.convert({k: v for k, v in body.items() if k in cls.__struct_fields__}, cls)


def _connection(inp: VpnInputs, service: dict, c: dict, local_ip: str) -> VpnConnectionIntent | None:
    ike, ipsec = inp.ikepolicies.get(c["ikepolicy_id"]), inp.ipsecpolicies.get(c["ipsecpolicy_id"])
    if ike is None or ipsec is None:
        return None
    if c.get("local_ep_group_id"):
        local_subnets = inp.groups.get(c["local_ep_group_id"], {}).get("endpoints", [])
        peer = tuple(inp.groups.get(c["peer_ep_group_id"] or "", {}).get("endpoints", []))
    else:
        local_subnets, peer = [service.get("subnet_id")], tuple(c.get("peer_cidrs", []))
    local = tuple(sorted({inp.subnet_cidrs[s] for s in local_subnets if s in inp.subnet_cidrs}))
    if not local or not peer:
        return None
    conn = _policy(SiteConnection, {**c, "router_id": inp.router["id"]})
    return VpnConnectionIntent(
        connection_id=conn.id, local_address=local_ip, local_id=conn.local_id or local_ip,
        peer_address=conn.peer_address, peer_id=conn.peer_id, psk_sealed=conn.psk, local_cidrs=local,
        peer_cidrs=tuple(sorted(peer)), ike=_policy(IkePolicy, ike), ipsec=_policy(IpsecPolicy, ipsec),
        initiator=conn.initiator, dpd=conn.dpd, mtu=conn.mtu)


def build_intent(inp: VpnInputs) -> VpnIntent | None:
    local_ip = gateway_v4(inp.router)
    services = [s for s in inp.services if s.get("admin_state_up", True)]
    if not inp.host or not local_ip or not services or not inp.router.get("admin_state_up", True):
        return None
    by_id = {s["id"]: s for s in services}
    conns = []
    for c in sorted(inp.connections, key=lambda x: x["id"]):
        if c.get("admin_state_up", True) and c["vpnservice_id"] in by_id:
            ci = _connection(inp, by_id[c["vpnservice_id"]], c, local_ip)
            if ci is not None:
                conns.append(ci)
    return VpnIntent(router_id=inp.router["id"], vpnservice_ids=tuple(sorted(by_id)), connections=tuple(conns))


def compile_router(inp: VpnInputs) -> dict[str, bytes]:
    intent = build_intent(inp)
    if intent is None:
        return {}
    return {vpn_key(host_token(inp.host), intent.router_id): _enc.encode(intent)}


# --- I/O: the after-commit publisher -----------------------------------------------------

def vpn_bucket(prefix: str) -> str:
    return next(b for b in kv_buckets(prefix) if b.endswith(VPN_BUCKET))


def read_inputs(conn, router_id: str) -> VpnInputs | None:
    q = conn.execute
    row = q("SELECT body, host FROM routers WHERE id = ?", [router_id]).fetchone()
    if row is None:
        return None
    services = tuple(_dec(r[0]) for r in q("SELECT body FROM vpnservices WHERE router_id = ?", [router_id]))
    conns = tuple(_dec(r[0]) for r in q("SELECT body FROM ipsec_site_connections WHERE router_id = ?", [router_id]))
    ike = {c["ikepolicy_id"] for c in conns}
    ipsec = {c["ipsecpolicy_id"] for c in conns}
    group_ids = {g for c in conns for g in (c.get("local_ep_group_id"), c.get("peer_ep_group_id")) if g}
    one = lambda table, i: q(f"SELECT body FROM {table} WHERE id = ?", [i]).fetchone()  # noqa: E731
    groups = {g: _dec(r[0]) for g in group_ids if (r := one("endpoint_groups", g))}
    subnet_ids = {s for g in groups.values() if g["type"] == "subnet" for s in g["endpoints"]}
    subnet_ids |= {s["subnet_id"] for s in services if s.get("subnet_id")}
    cidrs = {s: r[0] for s in subnet_ids if (r := q("SELECT cidr FROM subnets WHERE id = ?", [s]).fetchone())}
    return VpnInputs(router=_dec(row[0]), host=row[1], services=services, connections=conns,
                     ikepolicies={i: _dec(r[0]) for i in ike if (r := one("ikepolicies", i))},
                     ipsecpolicies={i: _dec(r[0]) for i in ipsec if (r := one("ipsecpolicies", i))},
                     groups=groups, subnet_cidrs=cidrs)


class VpnIntentPublisher:
    def __init__(self, bus, conn) -> None:
        self.bus, self.conn = bus, conn
        self.kv = None
        self.published: dict[str, bytes] = {}
        self.compiled_at = -1

    async def start(self) -> None:
        self.kv = await self.bus.js.key_value(vpn_bucket(self.bus.subjects.prefix))
        try:
            for key in await self.kv.keys():
                self.published[key] = (await self.kv.get(key)).value
        except Exception:  # noqa: BLE001 - an empty bucket has no keys
            pass
        await self.sync()

    def desired(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for (rid,) in self.conn.execute("SELECT DISTINCT router_id FROM vpnservices").fetchall():
            inp = read_inputs(self.conn, rid)
            if inp is not None:
                out.update(compile_router(inp))
        return out

    async def sync(self) -> None:
        top = self.conn.execute("SELECT max(seq) FROM checkpoint WHERE stream = 'events'").fetchone()[0] or 0
        if top == self.compiled_at:
            return
        puts, deletes = await write_diff(self.kv, self.published, self.desired())
        self.published.update(puts)
        for key in deletes:
            self.published.pop(key, None)
        if puts or deletes:   # keys only: values hold PSKs
            log.info("vpn intents published", puts=sorted(puts), deletes=deletes)
        self.compiled_at = top
