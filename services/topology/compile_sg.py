"""Rows -> per-host security group intents (pure), and their publisher.

A host gets ``<host>.sg.<id>`` for every group one of its bound, port-security-enabled
ports is in, and ``<host>.sgm.<id>`` (member addresses) for every group those groups'
rules name as remote group. So a rule change rewrites one key on each host that has a
port in the group, and a membership change one key on each host whose rules refer to
the group; nothing else is touched. Publishing diffs against what was published, so
recompiling everything after each batch writes only real changes.
"""

from __future__ import annotations

import msgspec
import structlog

from netledger.libs.events.intents import SecurityGroupIntent, SgMembers, SgRuleIntent, is_sg_key, sg_key, sg_members_key
from netledger.libs.events.subjects import host_token

from .compile_l2 import bound_host
from .port_bodies import PortBodies
from .publish import write_diff
from .sg_index import SgIndex, compile_hosts, hosts_using

log = structlog.get_logger("topology.sg")
_enc = msgspec.json.Encoder()
_PROTO = {"ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2, "ipip": 4,
          "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60,
          "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136,
          "vrrp": 112}


def rule_intent(body: dict) -> SgRuleIntent:
    proto = body.get("protocol")
    number = None if proto in (None, "", "any") else _PROTO.get(proto, None)
    if number is None and proto not in (None, "", "any"):
        number = int(proto)
    return SgRuleIntent(direction=body["direction"], ethertype=body["ethertype"], protocol=number,
                        port_range_min=body.get("port_range_min"), port_range_max=body.get("port_range_max"),
                        remote_ip_prefix=body.get("remote_ip_prefix") or "",
                        remote_group_id=body.get("remote_group_id") or "")


def group_intent(group: dict) -> SecurityGroupIntent:
    rules = sorted({rule_intent(r) for r in group.get("security_group_rules", [])},
                   key=lambda r: msgspec.json.encode(r))
    return SecurityGroupIntent(sg_id=group["id"], stateful=group.get("stateful", True), rules=tuple(rules))


def port_addresses(port: dict) -> set[str]:
    addrs = {f["ip_address"] for f in port.get("fixed_ips", [])}
    return addrs | {p["ip_address"] for p in port.get("allowed_address_pairs", [])}


def members(ports: list[dict]) -> dict[str, tuple[str, ...]]:
    """Group id -> sorted addresses of its ports (every port, bound or not: a remote
    address is an address whatever host it lives on)."""
    out: dict[str, set[str]] = {}
    for port in ports:
        for sg in port.get("security_groups", []):
            out.setdefault(sg, set()).update(port_addresses(port))
    return {sg: tuple(sorted(a)) for sg, a in out.items()}


def compile_sgs(ports: list[dict], groups: dict[str, dict]) -> dict[str, bytes]:
    """Every SG intent key of every host (and its encoded value)."""
    by_host: dict[str, set[str]] = {}
    for port in ports:
        host = bound_host(port)
        if host and port.get("port_security_enabled", True):
            by_host.setdefault(host, set()).update(port.get("security_groups", []))
    intents = {sg: group_intent(g) for sg, g in groups.items()}
    member_sets = members(ports)
    out: dict[str, bytes] = {}
    for host, sgs in by_host.items():
        token = host_token(host)
        remotes: set[str] = set()
        for sg in sorted(sgs & set(intents)):
            out[sg_key(token, sg)] = _enc.encode(intents[sg])
            remotes |= {r.remote_group_id for r in intents[sg].rules if r.remote_group_id}
        for rg in sorted(remotes & set(intents)):
            out[sg_members_key(token, rg)] = _enc.encode(SgMembers(sg_id=rg, addresses=member_sets.get(rg, ())))
    return out


class SgIntentPublisher:
    """Keeps the SG intents in the bucket equal to ``compile_sgs`` of the projection,
    recompiling only the hosts a batch affected (see sg_index); writes only differences."""

    def __init__(self, kv, conn, ports: PortBodies | None = None) -> None:
        self.kv, self.conn = kv, conn
        self.ports = ports or PortBodies(conn)
        self.published: dict[str, bytes] = {}
        self.fingerprint: tuple = ()
        self.index = SgIndex()
        self.seen: dict[str, int] = {}          # port id -> seq folded into the index
        self.intents: dict[str, SecurityGroupIntent] = {}
        self.pending: set[str] = set()          # hosts to recompile (kept until published)
        self.writes = 0

    def _groups_fingerprint(self) -> tuple:
        # Every group event bumps its row's seq; a delete lowers the count.
        return tuple(self.conn.execute("SELECT count(*), total(seq) FROM security_groups").fetchone())

    def _absorb_ports(self) -> set[str]:
        """Fold changed ports into the index; the hosts whose keys may have changed."""
        listed = dict(self.conn.execute("SELECT id, seq FROM ports").fetchall())
        changed = [pid for pid, seq in listed.items() if self.seen.get(pid) != seq]
        gone = [pid for pid in self.seen if pid not in listed]
        current = self.ports.by_ids(changed) if changed else {}
        hosts, groups = set(), set()
        for pid in [*changed, *gone]:
            row = current.get(pid)
            h, g = self.index.update(pid, row[1] if row else None)
            hosts |= h
            groups |= g
            if row:
                self.seen[pid] = row[0]
            else:
                self.seen.pop(pid, None)
        return hosts | hosts_using(self.index, groups, self.intents)

    async def start(self, existing: dict[str, bytes]) -> None:
        self.published = {k: v for k, v in existing.items() if is_sg_key(k)}
        await self.sync(True)

    async def sync(self, ports_touched: bool) -> None:
        fp = self._groups_fingerprint()
        if not ports_touched and fp == self.fingerprint and not self.pending:
            return
        self.pending |= self._absorb_ports()
        tokens = {host_token(h) for h in self.pending}
        if fp != self.fingerprint:
            groups = {r[0]: msgspec.json.decode(r[1]) for r in self.conn.execute("SELECT id, body FROM security_groups_v")}
            self.intents = {sg: group_intent(g) for sg, g in groups.items()}
            self.pending |= self.index.hosts()
            tokens = {host_token(h) for h in self.pending} | {k.split(".", 1)[0] for k in self.published}
        if not tokens:
            self.fingerprint = fp
            return
        desired = compile_hosts(self.index, self.pending, self.intents)
        before = {k: v for k, v in self.published.items() if k.split(".", 1)[0] in tokens}
        puts, deletes = await write_diff(self.kv, before, desired)
        for key in before:
            del self.published[key]
        self.published.update(desired)
        # Only now: a failed put keeps the hosts pending and the old fingerprint, so the
        # next batch retries them.
        self.pending.clear()
        self.fingerprint = fp
        self.writes += len(puts) + len(deletes)
        if puts or deletes:
            log.info("sg intents published", puts=len(puts), deletes=len(deletes))
