"""Security group flows for br-int (pure): Neutron's openvswitch firewall, simplified.

Pipeline (tables as Neutron numbers them):
  0   a filtered port's packets: reg5 = its ofport (also its conntrack zone: one zone
      per port, so egress of A and ingress of B on one host never share entries),
      reg6 = local VLAN -> 71; trusted local ports (network:*, no port security) on
      such networks -> 73 (so their unicast to a filtered port is ingress-filtered);
      tagged packets from patch-tun on such networks -> 60.
  60  tagged unicast to a local filtered port -> strip VLAN -> 81; else NORMAL.
  71  egress anti-spoofing: ARP, DHCP, ND/RS only from the port's (MAC, address)
      pairs; IP only from them -> ct() -> 72; DHCP/RA serving from the port dropped.
  72  egress rules: established/related pass, invalid drops, new flows matching a
      rule are committed -> 73.
  73  accepted: unicast to a local filtered port -> 81; else NORMAL (in_port is still
      the access port, so NORMAL tags it).
  81  ingress: ARP, DHCP replies, ND pass; IP -> ct() -> 82.
  82  ingress rules, as 72, then output to reg5.
Remote groups are conjunctions, one conjunction id per (rules table, remote group, IP
version) shared by every port on the host: clause 1 = one flow per (port, rule
protocol part), clause 2 = one flow per member address (no port in it). A group of N
ports all allowing each other is then O(N) flows, not N x N (at 200 ports that was
40,000 flows and seconds of planning per batch), and a membership change adds/deletes
one member flow. Sharing the id is sound: a packet matches only if some clause-1 flow
of *its own* port (reg5) matches too.
Flows are normalized strings (``flows.normalize``) so the L2 planner's set difference
applies them incrementally; nothing here flushes conntrack, so connections that a
change still allows stay up.
"""

from __future__ import annotations

import functools
import ipaddress
import zlib

import msgspec

from netledger.libs.events.intents import SgRuleIntent
from netledger.services.l2.ovs.flows import normalize
from netledger.services.l2.sg.model import PortFilter, ethertype_version, port_masks, version_of

ZONE = "zone=NXM_NX_REG5[0..15]"
OUT = "output:NXM_NX_REG5[]"
_PROTO_TOKEN = {(4, 6): "tcp", (4, 17): "udp", (4, 1): "icmp", (4, 132): "sctp",
                (6, 6): "tcp6", (6, 17): "udp6", (6, 58): "icmp6", (6, 132): "sctp6"}


class SgPort(msgspec.Struct, frozen=True, kw_only=True):
    """A local filtered port as the flows need it."""

    filter: PortFilter
    name: str          # OVS port name (in_port)
    ofport: int
    lvid: int


class Trusted(msgspec.Struct, frozen=True, kw_only=True):
    """A local port without filtering on a network that has filtered ports."""

    name: str
    lvid: int


def _f(table: int, prio: int, match: str, actions: str) -> str:
    return normalize(f"table={table},priority={prio}{',' + match if match else ''} actions={actions}")


@functools.lru_cache(maxsize=65536)   # parsing addresses dominated planning at 1,000 ports
def _addr(field: str, address: str) -> str:
    """``,field=address`` as OVS prints it back, so rendered == observed: a /0 is no
    match at all (OVS wildcards it), a host prefix (/32, /128) is the bare address."""
    net = ipaddress.ip_network(address, strict=False)
    if net.prefixlen == 0:
        return ""
    if net.prefixlen == net.max_prefixlen:
        return f",{field}={net.network_address}"
    return f",{field}={net}"


def base_flows() -> set[str]:
    """Port-independent flows, present while any port on the host is filtered."""
    est = "ct_state=-new+est-inv+trk"
    rel = "ct_state=-new+rel-inv+trk"
    return {
        _f(60, 0, "", "NORMAL"), _f(73, 0, "", "NORMAL"),
        _f(71, 0, "", "drop"), _f(72, 0, "", "drop"), _f(81, 0, "", "drop"), _f(82, 0, "", "drop"),
        _f(71, 96, "udp,tp_src=67,tp_dst=68", "drop"), _f(71, 96, "udp6,tp_src=547,tp_dst=546", "drop"),
        _f(71, 96, "icmp6,icmp_type=134", "drop"),
        _f(72, 100, "ct_state=+inv+trk", "drop"), _f(72, 90, est, "resubmit(,73)"), _f(72, 90, rel, "resubmit(,73)"),
        _f(82, 100, "ct_state=+inv+trk", "drop"), _f(82, 90, est, OUT), _f(82, 90, rel, OUT),
        _f(81, 95, "arp", OUT), _f(81, 95, "udp,tp_src=67,tp_dst=68", OUT),
        _f(81, 95, "udp6,tp_src=547,tp_dst=546", OUT),
        *(_f(81, 95, f"icmp6,icmp_type={t}", OUT) for t in (130, 131, 132, 134, 135, 136)),
        _f(81, 90, "ip", f"ct(table=82,{ZONE})"), _f(81, 90, "ipv6", f"ct(table=82,{ZONE})"),
    }


def dispatch_flows(p: SgPort, tunnel: bool) -> set[str]:
    """Into the port's pipeline: from it (in_port), and to it by destination MAC — its own
    and every allowed-address-pair MAC, so traffic to a pair MAC meets its ingress rules."""
    reg = f"load:{p.ofport:#x}->NXM_NX_REG5[],load:{p.lvid:#x}->NXM_NX_REG6[]"
    flows = {_f(0, 100, f"in_port={p.name}", f"{reg},resubmit(,71)")}
    for mac in sorted({p.filter.mac, *(m for m, _ in p.filter.sources)}):
        flows.add(_f(73, 100, f"reg6={p.lvid:#x},dl_dst={mac}", f"load:{p.ofport:#x}->NXM_NX_REG5[],resubmit(,81)"))
        if tunnel:
            flows.add(_f(60, 100, f"dl_vlan={p.lvid},dl_dst={mac}", f"strip_vlan,{reg},resubmit(,81)"))
    return flows


def antispoof_flows(p: SgPort) -> set[str]:
    """Only the port's own (MAC, address) pairs get out; DHCP/ND need no address yet."""
    r, mac = f"reg5={p.ofport:#x}", p.filter.mac
    flows = {_f(71, 95, f"udp,{r},dl_src={mac},tp_src=68,tp_dst=67", "resubmit(,73)"),
             _f(71, 95, f"udp6,{r},dl_src={mac},tp_src=546,tp_dst=547", "resubmit(,73)"),
             _f(71, 65, f"ipv6,{r},dl_src={mac},ipv6_src=fe80::/64", f"ct(table=72,{ZONE})")}
    flows |= {_f(71, 95, f"icmp6,{r},dl_src={mac},icmp_type={t}", "resubmit(,73)") for t in (130, 131, 132, 133, 135, 136)}
    for smac, addr in p.filter.sources:
        if version_of(addr) == 4:
            flows.add(_f(71, 95, f"arp,{r},dl_src={smac}{_addr('arp_spa', addr)}", "resubmit(,73)"))
            flows.add(_f(71, 65, f"ip,{r},dl_src={smac}{_addr('nw_src', addr)}", f"ct(table=72,{ZONE})"))
        else:
            flows.add(_f(71, 65, f"ipv6,{r},dl_src={smac}{_addr('ipv6_src', addr)}", f"ct(table=72,{ZONE})"))
    return flows


def _proto_matches(rule: SgRuleIntent) -> list[str]:
    """The L3/L4 part of a rule as match strings (several for a masked port range)."""
    v = ethertype_version(rule.ethertype)
    if rule.protocol is None:
        return ["ip" if v == 4 else "ipv6"]
    proto = 58 if (v, rule.protocol) == (6, 1) else rule.protocol   # Neutron: "icmp" on IPv6 is ICMPv6
    token = _PROTO_TOKEN.get((v, proto))
    base = token or f"{'ip' if v == 4 else 'ipv6'},nw_proto={proto}"
    if proto in (1, 58) and token:
        if rule.port_range_min is None:
            return [base]
        code = f",icmp_code={rule.port_range_max}" if rule.port_range_max is not None else ""
        return [f"{base},icmp_type={rule.port_range_min}{code}"]
    if rule.port_range_min is None or not token:
        return [base]
    return [f"{base},tp_dst={v_:#x}/{m:#x}" if m != 0xFFFF else f"{base},tp_dst={v_}"
            for v_, m in port_masks(rule.port_range_min, rule.port_range_max)]


def _tables(rule: SgRuleIntent) -> tuple[int, str, str]:
    """(rules table, remote address field, accept action) for the rule's direction."""
    v = ethertype_version(rule.ethertype)
    if rule.direction == "ingress":
        return 82, ("nw_src" if v == 4 else "ipv6_src"), f"ct(commit,{ZONE}),{OUT}"
    return 72, ("nw_dst" if v == 4 else "ipv6_dst"), f"ct(commit,{ZONE}),resubmit(,73)"


def conj_key(rule: SgRuleIntent) -> tuple[int, str, int]:
    """What a conjunction id stands for: (rules table, remote group, IP version)."""
    return _tables(rule)[0], rule.remote_group_id or "", ethertype_version(rule.ethertype)


def conj_ids(keys: set[tuple[int, str, int]]) -> dict[tuple[int, str, int], int]:
    """A stable id per key: its CRC32, probed past collisions in sorted order, so the
    same set of keys always gets the same ids (re-apply is a no-op) and adding a group
    does not renumber the others unless their hashes collide."""
    ids: dict[tuple[int, str, int], int] = {}
    taken: set[int] = set()
    for key in sorted(keys):
        cid = zlib.crc32(f"{key[0]}/{key[1]}/{key[2]}".encode()) & 0x7FFFFFFF or 1
        while cid in taken:
            cid = cid % 0x7FFFFFFF + 1
        ids[key] = cid
        taken.add(cid)
    return ids


def remote_keys(p: SgPort) -> set[tuple[int, str, int]]:
    return {conj_key(r) for r in p.filter.rules if r.remote_group_id}


Members = tuple[int, str, str, str, tuple[str, ...]]   # (table, address field, ip token, accept, addresses)


def rule_flows(p: SgPort, cids: dict[tuple[int, str, int], int],
               members_of: dict[int, Members]) -> dict[str, list[str]]:
    """match key -> actions; conjunction clauses sharing a match are merged by the caller.

    The member (clause 2) and accept flows of a conjunction are the same for every port
    using it: they are noted once in ``members_of`` (cid -> members) and rendered once by
    the caller, so the cost stays linear in ports."""
    out: dict[str, list[str]] = {}
    new = f"ct_state=+new-est+trk,reg5={p.ofport:#x}"
    for rule in p.filter.rules:
        table, field, accept = _tables(rule)
        v = ethertype_version(rule.ethertype)
        for proto in _proto_matches(rule):
            if not rule.remote_group_id:
                remote = _addr(field, rule.remote_ip_prefix) if rule.remote_ip_prefix else ""
                out.setdefault(_f(table, 70, f"{new},{proto}{remote}", "X").split(" actions=")[0], []).append(accept)
                continue
            cid = cids[conj_key(rule)]
            if cid not in members_of:
                members = tuple(a for a in p.filter.remote_groups.get(rule.remote_group_id, ()) if version_of(a) == v)
                members_of[cid] = (table, field, "ip" if v == 4 else "ipv6", accept, members)
            if not members_of[cid][4]:
                continue
            out.setdefault(_key(table, f"{new},{proto}"), []).append(f"conjunction({cid},1/2)")
    return out


def member_flows(cid: int, members: Members) -> dict[str, list[str]]:
    """Clause 2 (one flow per member address, no port in it) and the accept flow."""
    table, field, ip, accept, addresses = members
    if not addresses:
        return {}
    out = {_key(table, f"ct_state=+new-est+trk,{ip}{_addr(field, a)}"): [f"conjunction({cid},2/2)"]
           for a in addresses}
    out[_key(table, f"conj_id={cid},{ip}", prio=71)] = [accept]
    return out


@functools.lru_cache(maxsize=1 << 15)
def _own_flows(name: str, ofport: int, lvid: int, mac: str, sources: tuple[tuple[str, str], ...],
               tunnel: bool) -> frozenset[str]:
    """A port's dispatch and anti-spoofing flows, cached on exactly what they depend on:
    every batch re-renders every port, and only a few of them changed."""
    p = SgPort(filter=PortFilter(port_id="", mac=mac, sources=sources, rules=()), name=name, ofport=ofport, lvid=lvid)
    return frozenset(dispatch_flows(p, tunnel) | antispoof_flows(p))


def _key(table: int, match: str, prio: int = 71) -> str:
    return _f(table, prio, match, "X").split(" actions=")[0]


def render_sg_flows(ports: list[SgPort], trusted: list[Trusted], tunnel_lvids: set[int]) -> set[str]:
    """Every SG flow of br-int for these local ports ([] when none is filtered)."""
    if not ports:
        return set()
    flows = base_flows()
    merged: dict[str, list[str]] = {}
    cids = conj_ids(set().union(*(remote_keys(p) for p in ports)))
    members_of: dict[int, Members] = {}
    for p in ports:
        flows |= _own_flows(p.name, p.ofport, p.lvid, p.filter.mac, p.filter.sources, p.lvid in tunnel_lvids)
        for key, actions in rule_flows(p, cids, members_of).items():
            merged.setdefault(key, []).extend(actions)
    for cid, members in members_of.items():
        for key, actions in member_flows(cid, members).items():
            merged.setdefault(key, []).extend(actions)
    for key, actions in merged.items():
        conj = sorted({a for a in actions if a.startswith("conjunction(")})
        plain = sorted({a for a in actions if not a.startswith("conjunction(")})
        flows.add(normalize(f"{key} actions={','.join(conj) if conj else plain[0]}"))
    for t in trusted:
        flows.add(_f(0, 100, f"in_port={t.name}", f"load:{t.lvid:#x}->NXM_NX_REG6[],resubmit(,73)"))
    for lvid in tunnel_lvids:
        flows.add(_f(0, 50, f"in_port=patch-tun,dl_vlan={lvid}", "resubmit(,60)"))
    return flows
