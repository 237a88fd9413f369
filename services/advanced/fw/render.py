"""The firewall chains of one router, for its private nft table (pure).

FWaaS v2 direction semantics, exactly as neutron-fwaas' iptables v2 driver for router
ports (``iptables_fwaas_v2.py``: ``IPTABLES_DIR = {ingress: '-o', egress: '-i'}``, "the
packets ingressing tenant's network will be on the output direction on
internal-interfaces"): a group's *ingress* policy filters traffic the router forwards
OUT through one of the group's ports, i.e. INTO the port's network (``oifname``); its
*egress* policy filters traffic coming FROM the port's network into the router
(``iifname``). For an interface port, ingress is what reaches the VM subnet (from
outside through a floating IP, or east-west), egress what the subnet sends. The same
rule on a gateway port (Neutron's driver only names ``qr-`` devices; netledger applies
the rule to ``qg-`` too): ingress is what the router sends to the external network,
egress what arrives from it.

As in that driver, every port of an admin-up group gets both chains: a direction
without a policy has no allow rule, so its new connections hit the default drop (only
established/related traffic passes). Only forwarded traffic is filtered (the FORWARD
hook), so the router's own addresses keep working.

Invariants: a router without groups on its ports renders no chain at all (its table
is byte-identical to one rendered before FWaaS existed); a policy chain is stateful
(invalid dropped, established/related accepted first), then the enabled rules in
policy order, then a default drop; an admin-down group drops everything on its ports.
IPv6 rules are skipped: the router's table is ``ip`` (IPv4) only.
"""

from __future__ import annotations

import ipaddress

from netledger.libs.events.fwaas import FwGroupIntent, FwRuleIntent
from netledger.libs.events.l3_intents import RouterIntent
from netledger.services.l3.config import port_name

FORWARD = "forward"
HEADERS = {FORWARD: "type filter hook forward priority filter; policy accept;"}
# Neutron's IPTABLES_DIR: ingress leaves the router through the port, egress enters it.
_MATCH = {"ingress": "oifname", "egress": "iifname"}
_ICMP_REJECT = "reject with icmp type port-unreachable"


def chain_name(group_id: str, direction: str) -> str:
    return f"fwg-{direction}-{group_id}"


def port_names(intent: RouterIntent) -> dict[str, str]:
    """port id -> device name in the router namespace (qr-... interfaces, qg-... gateway)."""
    names = {i.port_id: port_name("qr", i.port_id) for i in intent.interfaces}
    if intent.gateway is not None:
        names[intent.gateway.port.port_id] = port_name("qg", intent.gateway.port.port_id)
    return names


def chains(intent: RouterIntent) -> dict[str, list[tuple[str, str]]]:
    """chain -> [(label, rule text)]: policy chains first (jump targets exist before
    the jumps), the ``forward`` base chain last; {} when no group covers a port."""
    names = port_names(intent)
    out: dict[str, list[tuple[str, str]]] = {}
    forward: list[tuple[str, str]] = []
    for group in sorted(intent.firewall_groups, key=lambda g: g.group_id):
        devs = sorted(names[p] for p in group.ports if p in names)
        if devs:
            forward += _group(group, devs, out)
    if forward:
        out[FORWARD] = forward
    return out


def _group(group: FwGroupIntent, devs: list[str], out: dict) -> list[tuple[str, str]]:
    short = group.group_id[:8]
    if not group.admin_state_up:
        return [(f"fw-down {short} {d}", f'{m} "{d}" drop') for d in devs for m in _MATCH.values()]
    jumps = []
    for direction, rules in (("ingress", group.ingress), ("egress", group.egress)):
        # No policy in a direction = no allow rule in its chain (Neutron: default drop).
        chain = chain_name(group.group_id, direction)
        out[chain] = policy_chain(rules or ())
        jumps += [(f"fw-{direction} {short} {d}", f'{_MATCH[direction]} "{d}" jump {chain}') for d in devs]
    return jumps


def policy_chain(rules: tuple[FwRuleIntent, ...]) -> list[tuple[str, str]]:
    items = [("fw-state invalid", "ct state invalid drop"),
             ("fw-state established", "ct state established,related accept")]
    for rule in rules:
        if rule.ip_version == 4:
            items += [(f"fw-rule {rule.rule_id[:8]} {rule.action}", text) for text in rule_texts(rule)]
    items.append(("fw-default deny", "drop"))
    return items


def rule_texts(rule: FwRuleIntent) -> list[str]:
    """One nft rule, or two for "reject" of any protocol (TCP reset, ICMP otherwise)."""
    match = _matches(rule)
    if rule.action == "allow":
        return [" ".join([*match, "accept"])]
    if rule.action != "reject":
        return [" ".join([*match, "drop"])]
    if rule.protocol == "tcp":
        return [" ".join([*match, "reject with tcp reset"])]
    if rule.protocol:
        return [" ".join([*match, _ICMP_REJECT])]
    return [" ".join([*match, "meta l4proto tcp reject with tcp reset"]), " ".join([*match, _ICMP_REJECT])]


def _matches(rule: FwRuleIntent) -> list[str]:
    out = []
    if rule.protocol:
        out.append(f"ip protocol {rule.protocol}")
    if rule.source_ip_address:
        out.append(f"ip saddr {_net(rule.source_ip_address)}")
    if rule.destination_ip_address:
        out.append(f"ip daddr {_net(rule.destination_ip_address)}")
    if rule.protocol in ("tcp", "udp"):
        if rule.source_port:
            out.append(f"{rule.protocol} sport {_range(rule.source_port)}")
        if rule.destination_port:
            out.append(f"{rule.protocol} dport {_range(rule.destination_port)}")
    return out


def _net(value: str) -> str:
    net = ipaddress.ip_network(value, strict=False)
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def _range(value: str) -> str:
    lo, _, hi = value.partition(":")
    return lo if not hi or hi == lo else f"{lo}-{hi}"
