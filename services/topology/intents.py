"""Publishes L2 intents to the JetStream KV bucket after each folded batch.

Only networks touched by the batch (or whose hosts' tunnel IPs changed) are
recompiled. At start-up every network is compiled once and compared with what the
bucket already holds, so a restarted topology writes only real differences.
"""

from __future__ import annotations

import msgspec
import structlog

from netledger.deploy.streams import kv_buckets

from netledger.libs.events.intents import is_sg_key

from . import compile_l2
from .compile_sg import SgIntentPublisher
from .port_bodies import PortBodies
from .publish import publish_owner

log = structlog.get_logger("topology.intents")


class IntentPublisher:
    def __init__(self, bus, conn, ports: PortBodies | None = None) -> None:
        self.bus = bus
        self.conn = conn           # a read connection to the projection
        self.ports = ports or PortBodies(conn)
        self.kv = None
        self.published: dict[str, dict[str, bytes]] = {}   # network id -> key -> value
        self.tunnel_ips: dict[str, str] = {}
        self.writes = 0
        self.sg: SgIntentPublisher | None = None   # security group keys share the bucket

    async def start(self) -> None:
        self.kv = await self.bus.js.key_value(kv_buckets(self.bus.subjects.prefix)[0])
        everything = await self._bucket_contents()
        existing = {k: v for k, v in everything.items() if not is_sg_key(k)}
        self.sg = SgIntentPublisher(self.kv, self.conn, self.ports)
        await self.sg.start(everything)
        self.tunnel_ips = self._read_tunnel_ips()
        owners: dict[str, dict[str, bytes]] = {}
        for net_id in [r[0] for r in self.conn.execute("SELECT id FROM networks")]:
            owners[net_id] = {k: existing[k] for k in self._compile(net_id) if k in existing}
        self.published = owners
        # Keys in the bucket that no network claims any more (deleted while we were down).
        claimed = {k for keys in owners.values() for k in keys}
        self.published[""] = {k: v for k, v in existing.items() if k not in claimed}
        await self.sync(set(owners) | {""})

    async def _bucket_contents(self) -> dict[str, bytes]:
        out = {}
        try:
            keys = await self.kv.keys()
        except Exception:  # empty bucket
            return out
        for key in keys:
            try:
                entry = await self.kv.get(key)
                out[key] = entry.value
            except Exception:
                continue
        return out

    def _read_tunnel_ips(self) -> dict[str, str]:
        ips = {}
        for host, body in self.conn.execute("SELECT host, body FROM agents ORDER BY last_heartbeat"):
            ip = msgspec.json.decode(body).get("tunnel_ip")
            if ip:
                ips[host] = ip
        return ips

    def _compile(self, net_id: str) -> dict[str, bytes]:
        if not net_id:
            return {}
        row = self.conn.execute("SELECT body FROM networks WHERE id = ?", [net_id]).fetchone()
        network = msgspec.json.decode(row[0]) if row else None
        return compile_l2.compile_network(network, self.ports.of_network(net_id), self.tunnel_ips)

    def networks_of_hosts(self, hosts: set[str]) -> set[str]:
        if not hosts:
            return set()
        marks = ",".join("?" * len(hosts))
        return {r[0] for r in self.conn.execute(f"SELECT DISTINCT network_id FROM ports WHERE host IN ({marks})",
                                                list(hosts))}

    async def sync(self, networks: set[str]) -> None:
        """Recompile these networks (plus any whose hosts' tunnel IPs changed) and publish."""
        ips = self._read_tunnel_ips()
        if ips != self.tunnel_ips:
            changed = {h for h in set(ips) | set(self.tunnel_ips) if ips.get(h) != self.tunnel_ips.get(h)}
            self.tunnel_ips = ips
            networks = networks | self.networks_of_hosts(changed)
        for net_id in sorted(networks):
            puts, deletes = await publish_owner(self.kv, self.published, net_id, self._compile(net_id))
            self.writes += len(puts) + len(deletes)
            if puts or deletes:
                log.debug("intents published", network_id=net_id, puts=len(puts), deletes=len(deletes))
        if self.sg is not None:
            await self.sg.sync(bool(networks))
