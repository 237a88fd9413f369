"""Rows -> the DHCP intent of one network (pure), and its KV publisher (thin I/O shell).

A network gets a :class:`DhcpNetwork` under ``<host_token>.net.<network_id>`` of the
host it is scheduled on when it has a DHCP-enabled subnet and its DHCP port exists and
is bound there. The intent is recomputed whole whenever anything about the network
changes (subnets, any port, the schedule) and compared with what was published, so
publishing is idempotent and a restarted topology writes only real differences.
"""

from __future__ import annotations

import msgspec
import structlog

from netledger.deploy.streams import kv_buckets
from netledger.libs.events.dhcp import DHCP_OWNER, DhcpHost, DhcpNetwork, DhcpSubnet, dhcp_key
from netledger.libs.events.port import ExtraDhcpOpt, FixedIp
from netledger.libs.events.subjects import host_token
from netledger.libs.events.subnet import HostRoute

from .port_bodies import PortBodies
from .publish import publish_owner

_enc = msgspec.json.Encoder()
log = structlog.get_logger("topology.dhcp")


def hostname_for(ips: tuple[FixedIp, ...]) -> str:
    """Neutron's default DHCP host name: ``host-10-0-0-5`` (first address)."""
    if not ips:
        return ""
    return "host-" + ips[0].ip_address.replace(".", "-").replace(":", "-")


def _subnet(body: dict) -> DhcpSubnet:
    return DhcpSubnet(
        subnet_id=body["id"], cidr=body["cidr"], ip_version=body["ip_version"], gateway_ip=body.get("gateway_ip"),
        dns_nameservers=tuple(body.get("dns_nameservers") or ()),
        host_routes=tuple(HostRoute(**r) for r in body.get("host_routes") or ()),
        ipv6_ra_mode=body.get("ipv6_ra_mode"), ipv6_address_mode=body.get("ipv6_address_mode"))


def _host(port: dict, dhcp_subnets: set[str]) -> DhcpHost:
    ips = tuple(FixedIp(subnet_id=f["subnet_id"], ip_address=f["ip_address"])
                for f in port.get("fixed_ips") or () if f["subnet_id"] in dhcp_subnets)
    opts = tuple(sorted((ExtraDhcpOpt(**o) for o in port.get("extra_dhcp_opts") or ()),
                        key=lambda o: (o.ip_version, o.opt_name)))
    return DhcpHost(port_id=port["id"], mac_address=port["mac_address"], fixed_ips=ips, hostname=hostname_for(ips),
                    device_id=port.get("device_id", ""), device_owner=port.get("device_owner", ""),
                    project_id=port.get("project_id", ""), extra_dhcp_opts=opts,
                    revision_number=port.get("revision_number", 0))


def compile_network(network: dict | None, subnets: list[dict], ports: list[dict],
                    binding: dict | None) -> dict[str, bytes]:
    """All DHCP intent keys (and encoded values) that exist because of this network."""
    if network is None or not binding or not binding.get("host") or not network.get("admin_state_up", True):
        return {}
    enabled = sorted((s for s in subnets if s.get("enable_dhcp")), key=lambda s: s["id"])
    dhcp_port = next((p for p in ports if p["id"] == binding.get("port_id")), None)
    if not enabled or dhcp_port is None or dhcp_port.get("binding:host_id") != binding["host"]:
        return {}
    ids = {s["id"] for s in enabled}
    hosts = tuple(sorted((_host(p, ids) for p in ports if p["id"] != dhcp_port["id"]), key=lambda h: h.port_id))
    intent = DhcpNetwork(
        network_id=network["id"], project_id=network.get("project_id", ""), mtu=network.get("mtu") or 1450,
        port=_host(dhcp_port, ids), subnets=tuple(_subnet(s) for s in enabled),
        hosts=tuple(h for h in hosts if h.fixed_ips))
    return {dhcp_key(host_token(binding["host"]), network["id"]): _enc.encode(intent)}


def is_dhcp_port(port: dict) -> bool:
    return port.get("device_owner") == DHCP_OWNER


class DhcpIntentPublisher:
    """Publishes :func:`compile_network` results to the DHCP bucket (same contract as
    the L2 IntentPublisher: only touched networks, only real differences)."""

    def __init__(self, bus, conn, ports: PortBodies | None = None) -> None:
        self.ports = ports or PortBodies(conn)
        self.bus, self.conn = bus, conn
        self.kv = None
        self.published: dict[str, dict[str, bytes]] = {}
        self.writes = 0

    async def start(self) -> None:
        self.kv = await self.bus.js.key_value(kv_buckets(self.bus.subjects.prefix)[1])
        existing = await self._bucket_contents()
        nets = [r[0] for r in self.conn.execute("SELECT id FROM networks")]
        self.published = {n: {k: existing[k] for k in self._compile(n) if k in existing} for n in nets}
        claimed = {k for keys in self.published.values() for k in keys}
        self.published[""] = {k: v for k, v in existing.items() if k not in claimed}   # orphans: delete
        await self.sync(set(self.published))

    async def _bucket_contents(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        try:
            keys = await self.kv.keys()
        except Exception:  # noqa: BLE001 - nats raises NoKeysError on an empty bucket
            return out
        for key in keys:
            try:
                out[key] = (await self.kv.get(key)).value
            except Exception:  # noqa: BLE001 - deleted meanwhile
                continue
        return out

    def _rows(self, sql: str, args: list) -> list[dict]:
        return [msgspec.json.decode(r[0]) for r in self.conn.execute(sql, args)]

    def _compile(self, net_id: str) -> dict[str, bytes]:
        if not net_id:
            return {}
        nets = self._rows("SELECT body FROM networks WHERE id = ?", [net_id])
        row = self.conn.execute("SELECT host, port_id FROM dhcp_bindings WHERE id = ?", [net_id]).fetchone()
        binding = {"host": row[0], "port_id": row[1]} if row else None
        return compile_network(nets[0] if nets else None,
                               self._rows("SELECT body FROM subnets WHERE network_id = ?", [net_id]),
                               self.ports.of_network(net_id), binding)

    async def sync(self, networks: set[str]) -> None:
        for net_id in sorted(networks):
            puts, deletes = await publish_owner(self.kv, self.published, net_id, self._compile(net_id))
            self.writes += len(puts) + len(deletes)
            if puts or deletes:
                log.info("dhcp intents published", network_id=net_id, puts=len(puts), deletes=len(deletes))
