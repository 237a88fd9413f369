"""A port's anti-spoofing guard as an nftables ``bridge`` table (pure): Linux bridge backend.

``render_guard_table(f, tap=..., slot=...)`` -> the whole text of ``table bridge
nl-as-<port id prefix>``, one private table per port with port security (no filter, no
table), replaced atomically with ``nft -f`` like the port's ``inet`` SG table
(``render_nft``), in the same transaction.

Why a second table in another family: with br_netfilter the inet hooks see a bridged
frame with the *bridge* as iif and oif, so the SG table cannot see which tap a frame
came from or goes to, and checks there alone miss ARP (no IP hook sees it) and frames
the rules of no port would meet. The bridge family's prerouting hook sees the real ingress
port (``iifname <tap>``) before the bridge learns the source or forwards the frame: the
place Neutron's linuxbridge agent used (ebtables nat PREROUTING). It is stateless (no
bridge conntrack on this kernel, none needed): SG rules stay in the inet table.

What leaves the tap (the OVS backend's ``ovs_flows.antispoof_flows`` allows the same):
- only from the port's MAC or an allowed-address-pair MAC;
- ARP (Ethernet/IPv4 only) when sender MAC = frame source and (MAC, sender IP) is one of
  the port's pairs (fixed IPs, allowed pairs, pair CIDRs included);
- IPv4 from a pair, or from 0.0.0.0 to a DHCP server (udp 68 -> 67); never DHCP replies;
- IPv6 from a pair or the EUI-64 link-local address of an allowed MAC, or from :: for
  DAD / RS / MLD; never router advertisements nor DHCPv6 replies; a neighbour advert
  only for a target the port owns (the IPv6 twin of ARP spoofing);
- nothing else (other ethertypes, VLAN-tagged frames, malformed ARP).
An allowed pair of 0.0.0.0/0 or ::/0 lifts the address check for that MAC (as Neutron).
Every drop counts (``counter``) so an operator can see what a guest tried.

It also tells the inet SG table which port a frame belongs to (``marks``): every frame
from the tap gets the port's slot in the mark's OUT field as it enters the guard (a
dropped frame's mark is moot, and no accept path can forget it), every frame out through
the tap gets it in the IN field (bridge forward), and postrouting clears both again so
the mark never leaves the bridge (e.g. onto a VXLAN packet).
"""

from __future__ import annotations

import ipaddress

from netledger.services.l2.sg import marks
from netledger.services.l2.sg.model import PortFilter, allowed_macs, source_pairs

GUARD_PREFIX = "nl-as-"
# ICMPv6 a host sends before it owns an address (RFC 4862 DAD, RFC 4861 RS, RFC 3590 MLD)
_UNSPEC_ICMP6 = "nd-router-solicit, nd-neighbor-solicit, mld-listener-report, mld2-listener-report"
# nft 1.0.6 has no name for the ND target: it is the 128 bits after the 8-byte ICMPv6 header
_ND_TARGET = "@th,64,128"


def guard_table_name(port_id: str) -> str:
    return f"{GUARD_PREFIX}{port_id[:11]}"


def _addr_match(field: str, address: str) -> str:
    """`` field address`` (host or prefix); "" for a /0, which allows any address."""
    net = ipaddress.ip_network(address, strict=False)
    if net.prefixlen == 0:
        return ""
    return f" {field} {net.network_address if net.prefixlen == net.max_prefixlen else net}"


def _targets(addresses: list[str]) -> str | None:
    """The IPv6 addresses as an nft set of 128-bit integers/ranges (raw payload needs
    integers); None when one of them is ::/0 (any target)."""
    nets = [ipaddress.IPv6Network(a, strict=False) for a in addresses]
    if any(n.prefixlen == 0 for n in nets):
        return None
    elems = []
    for n in ipaddress.collapse_addresses(nets):        # an interval set refuses overlaps
        lo, hi = int(n.network_address), int(n.broadcast_address)
        elems.append(f"{lo:#034x}" if lo == hi else f"{lo:#034x}-{hi:#034x}")
    return "{ " + ", ".join(elems) + " }"


def render_guard_table(f: PortFilter, *, tap: str, slot: int) -> str:
    """Deterministic text: same filter and slot -> same bytes (unchanged text = nothing to do).

    ``slot``: the port's mark slot on this host (``marks.assign_slots``)."""
    out = [f"# netledger anti-spoofing for port {f.port_id} (tap {tap}); generated, do not edit",
           f"table bridge {guard_table_name(f.port_id)} {{",
           "  chain prerouting {",
           "    type filter hook prerouting priority filter; policy accept;",
           f"    iifname \"{tap}\" {marks.set_from_port(slot)} jump port_out",
           "  }",
           "  chain forward {",
           "    type filter hook forward priority filter; policy accept;",
           f"    oifname \"{tap}\" {marks.set_to_port(slot)}",
           "  }",
           "  chain postrouting {",
           "    type filter hook postrouting priority filter; policy accept;",
           f"    {marks.from_port(slot)} {marks.clear()}",
           f"    oifname \"{tap}\" {marks.clear()}",
           "  }",
           "  chain port_out {",
           f"    ether saddr != {{ {', '.join(allowed_macs(f))} }} counter drop",
           "    ether type arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4 jump arp_out",
           "    ether type ip jump ip4_out",
           "    ether type ip6 jump ip6_out",
           "    counter drop",
           "  }"]
    out += _chain("arp_out", [f"ether saddr {m} arp saddr ether {m}{_addr_match('arp saddr ip', a)} accept"
                              for m, a in source_pairs(f, 4)])
    out += _chain("ip4_out", ["udp sport 67 udp dport 68 counter drop",
                              "ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept",
                              *(f"ether saddr {m}{_addr_match('ip saddr', a)} accept"
                                for m, a in source_pairs(f, 4))])
    v6 = source_pairs(f, 6)
    out += _chain("ip6_out", ["icmpv6 type nd-router-advert counter drop",
                              "udp sport 547 udp dport 546 counter drop",
                              f"ip6 saddr :: icmpv6 type {{ {_UNSPEC_ICMP6} }} accept",
                              *(f"ether saddr {m}{_addr_match('ip6 saddr', a)} jump ip6_own" for m, a in v6)])
    targets = _targets([a for _, a in v6])
    na = [f"icmpv6 type nd-neighbor-advert {_ND_TARGET} != {targets} counter drop"] if targets else []
    out += ["  chain ip6_own {", *(f"    {r}" for r in na), "    accept", "  }", "}"]
    return "\n".join(out) + "\n"


def _chain(name: str, rules: list[str]) -> list[str]:
    """A chain of ``rules`` ending in a counted drop."""
    return [f"  chain {name} {{", *(f"    {r}" for r in rules), "    counter drop", "  }"]
