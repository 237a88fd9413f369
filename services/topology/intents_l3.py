"""Publishes L3 intents (bucket NL_L3) after each folded batch (I/O around compile_l3).

Which routers to recompile: those whose own rows or floating IPs moved past the
last position we compiled at, routers with ports on networks the batch touched, and
routers we published that no longer exist. At start-up every router is compiled and
compared with the bucket, so a restarted topology writes only real differences.
"""

from __future__ import annotations

import msgspec
import structlog

from netledger.deploy.streams import kv_buckets
from netledger.libs.events.l3_intents import L3_BUCKET
from netledger.optional import import_optional

from . import compile_l3
from .publish import publish_owner

log = structlog.get_logger("topology.intents_l3")
# FWaaS v2: firewall groups of a router's ports are compiled into its intent.
fw_rows = import_optional("netledger.services.advanced.fw.rows")
_dec = msgspec.json.decode


def l3_bucket(prefix: str) -> str:
    return next(b for b in kv_buckets(prefix) if b.endswith(L3_BUCKET))


class L3IntentPublisher:
    def __init__(self, bus, conn) -> None:
        self.bus, self.conn = bus, conn
        self.kv = None
        self.published: dict[str, dict[str, bytes]] = {}   # router id -> key -> value
        self.high_water = 0
        self.fip_router: dict[str, str] = {}   # floating IP -> router it was compiled into
        self.writes = 0

    async def start(self) -> None:
        self.kv = await self.bus.js.key_value(l3_bucket(self.bus.subjects.prefix))
        existing = {}
        try:
            for key in await self.kv.keys():
                existing[key] = (await self.kv.get(key)).value
        except Exception:  # noqa: BLE001 - an empty bucket has no keys
            pass
        for rid in self._router_ids():
            self.published[rid] = {k: existing[k] for k in self._compile(rid) if k in existing}
        claimed = {k for keys in self.published.values() for k in keys}
        self.published[""] = {k: v for k, v in existing.items() if k not in claimed}
        await self.sync(set(self.published), full=True)

    def _router_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT id FROM routers")]

    def _inputs(self, rid: str) -> compile_l3.RouterInputs | None:
        row = self.conn.execute("SELECT body, host, gw_port_id FROM routers WHERE id = ?", [rid]).fetchone()
        if row is None:
            return None
        itf_ids = [r[0] for r in self.conn.execute("SELECT port_id FROM router_ports WHERE router_id = ?", [rid])]
        ids = itf_ids + ([row[2]] if row[2] else [])
        ports = {}
        for pid in ids:
            prow = self.conn.execute("SELECT body FROM ports WHERE id = ?", [pid]).fetchone()
            if prow:
                ports[pid] = _dec(prow[0])
        subnet_ids = {f["subnet_id"] for p in ports.values() for f in p.get("fixed_ips", [])}
        subnets = {s: _dec(r[0]) for s in subnet_ids
                   for r in [self.conn.execute("SELECT body FROM subnets WHERE id = ?", [s]).fetchone()] if r}
        mtus = {}
        for net in {p["network_id"] for p in ports.values()}:
            nrow = self.conn.execute("SELECT body FROM networks WHERE id = ?", [net]).fetchone()
            if nrow:
                mtus[net] = _dec(nrow[0]).get("mtu", 1450)
        fips = tuple(_dec(r[0]) for r in self.conn.execute(
            "SELECT body FROM floatingips_v WHERE json_extract(body, '$.router_id') = ?", [rid]))
        self.fip_router.update({f["id"]: rid for f in fips})
        fw = fw_rows.groups_for_ports(self.conn, ids) if fw_rows else ()
        return compile_l3.RouterInputs(router=_dec(row[0]), host=row[1], ports=ports, subnets=subnets, mtus=mtus,
                                       interface_ports=tuple(itf_ids), gw_port_id=row[2], floatingips=fips,
                                       firewall_groups=fw)

    def _compile(self, rid: str) -> dict[str, bytes]:
        return compile_l3.compile_router(self._inputs(rid)) if rid else {}

    def touched(self, networks: set[str]) -> set[str]:
        """Routers whose intent may have changed since the last sync."""
        hw = self.high_water
        q = self.conn.execute
        out = {r[0] for r in q("SELECT id FROM routers WHERE seq > ?", [hw])}
        for fid, rid in q("SELECT id, router_id FROM floatingips WHERE seq > ?", [hw]).fetchall():
            out |= {r for r in (rid, self.fip_router.get(fid)) if r}   # where it is and where it was
        out |= {r[0] for r in q("SELECT device_id FROM ports WHERE seq > ? AND json_extract(body, '$.device_owner')"
                                " IN ('network:router_interface', 'network:router_gateway')", [hw])}
        if networks:
            marks = ",".join("?" * len(networks))
            out |= {r[0] for r in q(f"SELECT router_id FROM router_ports WHERE network_id IN ({marks})",
                                    list(networks))}
            out |= {r[0] for r in q(f"SELECT id FROM routers WHERE gw_network_id IN ({marks})", list(networks))}
            out |= {r[0] for r in q(f"SELECT f.router_id FROM floatingips f JOIN ports p ON p.id = f.port_id "
                                    f"WHERE p.network_id IN ({marks})", list(networks))}
        if fw_rows:
            out |= fw_rows.touched_routers(self.conn, hw)
        gone = {rid for rid, keys in self.published.items() if rid and rid not in out
                 and not q("SELECT 1 FROM routers WHERE id = ?", [rid]).fetchone()}
        return out | gone

    async def sync(self, routers: set[str], *, full: bool = False) -> None:
        top = self.conn.execute("SELECT max(seq) FROM checkpoint WHERE stream = 'events'").fetchone()[0] or 0
        if full:
            routers = routers | set(self._router_ids())
        for rid in sorted(routers):
            puts, deletes = await publish_owner(self.kv, self.published, rid, self._compile(rid))
            self.writes += len(puts) + len(deletes)
            if puts or deletes:
                log.info("l3 intent published", router_id=rid, puts=sorted(puts), deletes=deletes)
        self.high_water = max(self.high_water, top)
