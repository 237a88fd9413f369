"""A port's filter as an nftables table (pure): for the Linux bridge backend.

``render_port_table(f, bridge=..., tap=..., slot=...)`` -> the whole text of ``table
inet nl-sg-<port id prefix>`` (one private table per port, as knftables: replace it
atomically with ``nft -f``; delete only tables named ``nl-sg-*``). Per PLATFORM.md the
inet family sees a bridged frame with the *bridge* as iif/oif (br_netfilter), never the
tap, so the port is recognised by its mark slot (``marks``), which the port's bridge
table (``render_nft_bridge``) stamps on every frame from / to its tap: egress =
``iifname <bridge>`` and the OUT field, ingress = ``oifname <bridge>`` and the IN field.
Not by MAC: a guest may send and receive with allowed-address-pair MACs, and those
frames must meet the port's rules too. ``port_out`` re-checks the (MAC, source) pairs
the guard allows (the port's link-local addresses included), ``port_in`` takes
unicast for the port's addresses and all broadcast/multicast delivered to the tap.
Remote groups are named sets (``rg_<n>``): a membership change is a set element change.
Conntrack is stateful per zone-less inet table; rule changes do not flush conntrack, so
allowed connections stay up.
"""

from __future__ import annotations

from netledger.services.l2.sg import marks
from netledger.services.l2.sg.model import PortFilter, ethertype_version, source_pairs, version_of

_L4 = {6: "tcp", 17: "udp", 132: "sctp", 33: "dccp", 136: "udplite"}
# ICMPv6 that passes without rules, as the OVS backend's flows: neighbour discovery and
# MLD out (the guard already checked the source), ND, router adverts and MLD queries in
_ICMP6_OUT = ("mld-listener-report, mld-listener-done, nd-router-solicit, nd-neighbor-solicit, "
              "nd-neighbor-advert, mld2-listener-report")
_ICMP6_IN = "mld-listener-query, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert"


def table_name(port_id: str) -> str:
    return f"nl-sg-{port_id[:11]}"


def _set_name(n: int, v: int) -> str:
    return f"rg{n}_v{v}"


def _rule_expr(rule, field: str, sets: dict[tuple[str, int], str]) -> str | None:
    v = ethertype_version(rule.ethertype)
    fam = "ip" if v == 4 else "ip6"
    parts = [f"meta nfproto ipv{v}"]
    if rule.remote_group_id:
        parts.append(f"{fam} {field} @{sets[(rule.remote_group_id, v)]}")
    elif rule.remote_ip_prefix:
        parts.append(f"{fam} {field} {rule.remote_ip_prefix}")
    p = 58 if (v, rule.protocol) == (6, 1) else rule.protocol       # Neutron: "icmp" on IPv6 is ICMPv6
    if p is not None:
        if p in (1, 58):
            icmp = "icmp" if p == 1 else "icmpv6"
            parts.append(f"meta l4proto {icmp}")
            if rule.port_range_min is not None:
                parts.append(f"{icmp} type {rule.port_range_min}")
                if rule.port_range_max is not None:
                    parts.append(f"{icmp} code {rule.port_range_max}")
        elif p in _L4 and rule.port_range_min is not None:
            lo, hi = rule.port_range_min, rule.port_range_max
            parts.append(f"{_L4[p]} dport {lo if lo == hi else f'{lo}-{hi}'}")
        else:
            parts.append(f"meta l4proto {p}")
    return " ".join(parts) + " accept"


def render_port_table(f: PortFilter, *, bridge: str, tap: str, slot: int) -> str:
    """Deterministic text: same filter and slot -> same bytes (unchanged text = nothing to do).

    ``slot``: the port's mark slot on this host, the one its guard table sets."""
    sets = {(g, v): _set_name(n, v) for n, g in enumerate(sorted(f.remote_groups)) for v in (4, 6)}
    pairs = source_pairs(f, 4) + source_pairs(f, 6)
    own4 = sorted({a for _, a in source_pairs(f, 4)})
    own6 = sorted({a for _, a in source_pairs(f, 6)})
    out = [f"# netledger security groups for port {f.port_id} (tap {tap}); generated, do not edit",
           f"table inet {table_name(f.port_id)} {{"]
    for (g, v), name in sorted(sets.items(), key=lambda x: x[1]):
        elems = [a for a in f.remote_groups[g] if version_of(a) == v]
        body = f" elements = {{ {', '.join(elems)} }}" if elems else ""
        out.append(f"  set {name} {{ type ipv{v}_addr; flags interval;{body} }}  # group {g}")
    out.append("  chain forward {")
    out.append("    type filter hook forward priority filter; policy accept;")
    out.append(f"    iifname \"{bridge}\" {marks.from_port(slot)} jump port_out")
    out.append(f"    oifname \"{bridge}\" {marks.to_port(slot)} jump port_in")
    out.append("  }")
    out.append("  chain port_out {")
    for mac, addr in pairs:
        fam = "ip" if version_of(addr) == 4 else "ip6"
        out.append(f"    ether saddr {mac} {fam} saddr {addr} jump out_rules")
    out.append("    udp sport 68 udp dport 67 accept")
    out.append(f"    icmpv6 type {{ {_ICMP6_OUT} }} accept")
    out.append("    drop")
    out.append("  }")
    out += _rules_chain("out_rules", f, "daddr", sets, "egress")
    out.append("  chain port_in {")
    out.append("    udp sport 67 udp dport 68 accept")
    out.append("    udp sport 547 udp dport 546 accept")
    out.append(f"    icmpv6 type {{ {_ICMP6_IN} }} accept")
    # the tap gets every copy of a broadcast/multicast (no port address to check): the
    # rules decide, as Neutron's iptables driver (physdev-out) did
    out.append("    meta pkttype { broadcast, multicast } jump in_rules")
    dst = [f"ip daddr {{ {', '.join(own4)} }}"] if own4 else []
    dst += [f"ip6 daddr {{ {', '.join(own6)} }}"] if own6 else []
    out += [f"    {d} jump in_rules" for d in dst]
    out.append("    drop")
    out.append("  }")
    out += _rules_chain("in_rules", f, "saddr", sets, "ingress")
    out.append("}")
    return "\n".join(out) + "\n"


def _rules_chain(name: str, f: PortFilter, field: str, sets, direction: str) -> list[str]:
    lines = [f"  chain {name} {{", "    ct state invalid drop", "    ct state established,related accept"]
    for rule in f.rules:
        if rule.direction == direction:
            lines.append("    " + _rule_expr(rule, field, sets))
    lines += ["    drop", "  }"]
    return lines
