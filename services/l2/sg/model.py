"""A port's filter, resolved from its intents (pure, backend-neutral).

``port_filter`` turns a port intent plus the host's SG intents into what every
backend enforces: the (MAC, address) pairs the port may send from, and the rules of
all its groups (deduplicated, sorted) with remote groups left as names whose member
addresses travel next to them. OVS renders these as flows (conjunctions for remote
groups), the Linux bridge backend as an nftables table (named sets for remote groups),
so a membership change touches only set elements / member flows.
"""

from __future__ import annotations

import functools
import ipaddress

import msgspec

from netledger.libs.events.intents import L2Port, SecurityGroupIntent, SgMembers, SgRuleIntent


class PortFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Everything needed to filter one port; ``None`` from port_filter = no filtering."""

    port_id: str
    mac: str
    sources: tuple[tuple[str, str], ...]          # (mac, address or CIDR) the port may send from
    rules: tuple[SgRuleIntent, ...]
    remote_groups: dict[str, tuple[str, ...]] = {}   # remote group id -> member addresses
    stateful: bool = True


def _rule_key(r: SgRuleIntent) -> bytes:
    return msgspec.json.encode(r)


def port_filter(port: L2Port, groups: dict[str, SecurityGroupIntent],
                members: dict[str, SgMembers]) -> PortFilter | None:
    """The port's filter; a group not (yet) known contributes no rules (fail closed)."""
    if not port.port_security_enabled:
        return None
    mac = port.mac_address.lower()
    sources = {(mac, ip) for ip in port.fixed_ips}
    sources |= {((p.mac_address or mac).lower(), p.ip_address) for p in port.allowed_address_pairs}
    rules: set[SgRuleIntent] = set()
    stateful = True
    for sg in port.security_groups:
        g = groups.get(sg)
        if g is not None:
            rules.update(g.rules)
            stateful = stateful and g.stateful
    remotes = {r.remote_group_id for r in rules if r.remote_group_id}
    return PortFilter(port_id=port.port_id, mac=mac, sources=tuple(sorted(sources)),
                      rules=tuple(sorted(rules, key=_rule_key)), stateful=stateful,
                      remote_groups={g: members[g].addresses if g in members else () for g in sorted(remotes)})


def allowed_macs(f: PortFilter) -> list[str]:
    """The port's MAC and every allowed-address-pair MAC, sorted."""
    return sorted({f.mac} | {m for m, _ in f.sources})


def link_local(mac: str) -> str:
    """fe80::/64 plus the modified EUI-64 interface id of ``mac`` (RFC 4291 appendix A)."""
    b = bytes.fromhex(mac.replace(":", ""))
    iid = bytes([b[0] ^ 0x02]) + b[1:3] + b"\xff\xfe" + b[3:6]
    return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + iid))


def source_pairs(f: PortFilter, v: int) -> list[tuple[str, str]]:
    """(MAC, address) pairs the port may send IPv``v`` from: its sources, plus for IPv6
    the link-local address of every allowed MAC (a guest configures one per MAC it
    uses, and ND/MLD/DHCPv6 run from it). Both Linux bridge tables use this list, so
    what the tap guard lets out the SG table's anti-spoofing part accepts too."""
    pairs = {(m, a) for m, a in f.sources if version_of(a) == v}
    if v == 6:
        pairs |= {(m, link_local(m)) for m in allowed_macs(f)}
    return sorted(pairs)


@functools.lru_cache(maxsize=1 << 16)
def version_of(address: str) -> int:
    return ipaddress.ip_network(address, strict=False).version


def ethertype_version(ethertype: str) -> int:
    return 6 if ethertype == "IPv6" else 4


def port_masks(lo: int, hi: int) -> list[tuple[int, int]]:
    """A port range as (value, mask) pairs covering exactly [lo, hi] (OpenFlow has no
    ranges); (v, 0xffff) is an exact port."""
    out: list[tuple[int, int]] = []
    while lo <= hi:
        size = (lo & -lo) if lo else 1 << 16
        while size > hi - lo + 1:
            size >>= 1
        out.append((lo, 0xFFFF ^ (size - 1)))
        lo += size
    return out
