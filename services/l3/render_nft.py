"""The router's private nft table, rendered whole from its intent (pure).

Every rule carries a comment "<what> <args> #<hash>" where the hash covers the
chain and the rule text: reading the table back (``nft -j``) gives the list of
comments in order, which equals ``signature`` exactly when no rule was added,
removed, reordered or rewritten. The driver replaces the table atomically
(``table; delete table; table {...}`` in one ``nft -f`` transaction).

NAT, as Neutron's L3 agent does it: floating IPs DNAT in prerouting (from outside
and from inside: hairpin) and in output (router-local access), SNAT to the floating
IP before the general SNAT of the internal subnets to the gateway address; DNATed
traffic that came in from an internal side and leaves on an internal side is
masqueraded so the reply comes back through the router (hairpin).
"""

from __future__ import annotations

import hashlib
import ipaddress

from netledger.libs.events.l3_intents import RouterIntent
from netledger.services.advanced.fw import render as fw_render

from .config import NFT_TABLE, port_name

HEADERS = {
    "prerouting": "type nat hook prerouting priority dstnat; policy accept;",
    "output": "type nat hook output priority -100; policy accept;",
    "postrouting": "type nat hook postrouting priority srcnat; policy accept;",
}


def _v4(cidr: str) -> bool:
    return ipaddress.ip_interface(cidr).version == 4


def rules(intent: RouterIntent) -> dict[str, list[tuple[str, str]]]:
    """chain -> [(label, rule text)] in order: NAT chains, then the FWaaS filter chains
    (services/advanced/fw/render.py; none when no firewall group covers a port)."""
    return {**_nat_rules(intent), **fw_render.chains(intent)}


def _nat_rules(intent: RouterIntent) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {c: [] for c in HEADERS}
    gw = intent.gateway
    if gw is None:
        return out
    qg = port_name("qg", gw.port.port_id)
    gw_ips = [c.split("/")[0] for c in gw.port.cidrs if _v4(c)]
    for f in intent.floating_ips:
        dnat = f"ip daddr {f.floating_ip_address} dnat to {f.fixed_ip_address}"
        out["prerouting"].append((f"fip {f.floating_ip_address} {f.fixed_ip_address}", dnat))
        out["output"].append((f"fip-local {f.floating_ip_address}", dnat))
    post = out["postrouting"]
    if intent.floating_ips:
        post.append(("hairpin", f'ct status dnat iifname != "{qg}" oifname != "{qg}" masquerade'))
    for f in intent.floating_ips:
        post.append((f"fip-snat {f.floating_ip_address}",
                     f'oifname "{qg}" ip saddr {f.fixed_ip_address} snat to {f.floating_ip_address}'))
    if gw.enable_snat and gw_ips:
        for cidr in sorted({str(ipaddress.ip_interface(c).network) for i in intent.interfaces for c in i.cidrs
                            if _v4(c)}):
            post.append((f"snat {cidr}", f'oifname "{qg}" ip saddr {cidr} snat to {gw_ips[0]}'))
    return out


def _comment(chain: str, label: str, text: str) -> str:
    digest = hashlib.sha256(f"{chain}|{text}".encode()).hexdigest()[:8]
    return f"{label} #{digest}"


def signature(intent: RouterIntent) -> tuple[str, ...]:
    sig = []
    for chain, items in rules(intent).items():
        sig.append(f"chain {chain}")
        sig += [f"{chain}: {_comment(chain, label, text)}" for label, text in items]
    return tuple(sig)


def render(intent: RouterIntent) -> str:
    """The table definition (without the replace preamble: see ``replace_script``)."""
    lines = [f"table ip {NFT_TABLE} {{"]
    for chain, items in rules(intent).items():
        lines.append(f"\tchain {chain} {{")
        header = HEADERS.get(chain) or fw_render.HEADERS.get(chain)
        if header:     # base chains only; FWaaS policy chains are regular (jump) chains
            lines.append(f"\t\t{header}")
        lines += [f'\t\t{text} comment "{_comment(chain, label, text)}"' for label, text in items]
        lines.append("\t}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def replace_script(text: str) -> str:
    """One atomic transaction: create-if-missing, delete, define."""
    return f"table ip {NFT_TABLE}\ndelete table ip {NFT_TABLE}\n{text}"


def floating_ips(intent: RouterIntent) -> frozenset[str]:
    return frozenset(f.floating_ip_address for f in intent.floating_ips) if intent.gateway else frozenset()


def parse_observed(doc: dict) -> tuple[tuple[str, ...], frozenset[str]]:
    """(signature, floating IPs) from ``nft -j list table`` output."""
    chains: dict[str, list[str]] = {}
    for item in doc.get("nftables", []):
        if "chain" in item:
            chains.setdefault(item["chain"]["name"], [])
        elif "rule" in item:
            rule = item["rule"]
            chains.setdefault(rule["chain"], []).append(rule.get("comment", ""))
    sig, fips = [], set()
    for chain, comments in chains.items():
        sig.append(f"chain {chain}")
        sig += [f"{chain}: {c}" for c in comments]
        fips |= {c.split()[1] for c in comments if c.startswith("fip ")}
    return tuple(sig), frozenset(fips)
