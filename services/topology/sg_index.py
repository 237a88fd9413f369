"""What the security-group intents depend on, kept up to date port by port (pure).

``compile_sg.compile_sgs`` derives every host's SG keys from every port; doing that after
each folded batch made the topology service O(ports) per batch (a third of its CPU at
3,000 ports, while the API waits for it to read its own writes). The index keeps each
port's contribution — the host it is bound to (when filtered there), its groups, its
addresses — and counts, so a port change says exactly which hosts' group sets and
which groups' member sets moved; only those hosts' keys are recompiled.
Invariant (tests/unit/test_sg_index.py): after any sequence of updates,
``compile_hosts(all hosts)`` equals ``compile_sgs`` over the current ports.
"""

from __future__ import annotations

from collections import Counter

import msgspec

from netledger.libs.events.intents import SecurityGroupIntent, SgMembers, sg_key, sg_members_key
from netledger.libs.events.subjects import host_token

from .compile_l2 import bound_host

_enc = msgspec.json.Encoder()


class Contribution(msgspec.Struct, frozen=True):
    host: str | None                 # bound here with port security on: its groups go to this host
    groups: tuple[str, ...]
    addresses: frozenset[str]


def contribution(port: dict) -> Contribution:
    groups = tuple(sorted(port.get("security_groups") or ()))
    host = bound_host(port) if groups and port.get("port_security_enabled", True) else None
    addrs = {f["ip_address"] for f in port.get("fixed_ips", [])}
    addrs |= {p["ip_address"] for p in port.get("allowed_address_pairs", [])}
    return Contribution(host=host, groups=groups, addresses=frozenset(addrs) if groups else frozenset())


class SgIndex:
    def __init__(self) -> None:
        self.ports: dict[str, Contribution] = {}
        self.host_groups: dict[str, Counter] = {}    # host -> group -> filtered ports of the host in it
        self.group_addrs: dict[str, Counter] = {}    # group -> address -> ports giving it

    def update(self, port_id: str, port: dict | None) -> tuple[set[str], set[str]]:
        """Replace a port's contribution (None: the port is gone). Returns the hosts whose
        set of groups changed and the groups whose member addresses changed."""
        new = contribution(port) if port is not None else None
        old = self.ports.pop(port_id, None)
        if new is not None and new.groups:
            self.ports[port_id] = new
        hosts: set[str] = set()
        groups: set[str] = set()
        if old == new:
            return hosts, groups
        for c, step in ((old, -1), (new, 1)):
            if c is None:
                continue
            if c.host:
                counts = self.host_groups.setdefault(c.host, Counter())
                for g in c.groups:
                    if _bump(counts, g, step):
                        hosts.add(c.host)
                if not counts:
                    del self.host_groups[c.host]
            for g in c.groups:
                counts = self.group_addrs.setdefault(g, Counter())
                for a in c.addresses:
                    if _bump(counts, a, step):
                        groups.add(g)
                if not counts:
                    del self.group_addrs[g]
        return hosts, groups

    def groups_of(self, host: str) -> set[str]:
        return set(self.host_groups.get(host, ()))

    def members(self, group: str) -> tuple[str, ...]:
        return tuple(sorted(self.group_addrs.get(group, ())))

    def hosts(self) -> set[str]:
        return set(self.host_groups)


def _bump(counts: Counter, key: str, step: int) -> bool:
    """Add ``step``; True when the key appeared or disappeared."""
    before = counts.get(key, 0)
    after = before + step
    if after <= 0:
        counts.pop(key, None)
    else:
        counts[key] = after
    return (before > 0) != (after > 0)


def hosts_using(index: SgIndex, groups: set[str], intents: dict[str, SecurityGroupIntent]) -> set[str]:
    """Hosts whose groups' rules name one of ``groups`` as remote group."""
    if not groups:
        return set()
    referring = {sg for sg, intent in intents.items() if any(r.remote_group_id in groups for r in intent.rules)}
    return {h for h, counts in index.host_groups.items() if referring.intersection(counts)}


def compile_hosts(index: SgIndex, hosts: set[str], intents: dict[str, SecurityGroupIntent]) -> dict[str, bytes]:
    """Every SG key of these hosts (the same keys and values ``compile_sgs`` gives them)."""
    out: dict[str, bytes] = {}
    for host in sorted(hosts):
        token = host_token(host)
        remotes: set[str] = set()
        for sg in sorted(index.groups_of(host) & set(intents)):
            out[sg_key(token, sg)] = _enc.encode(intents[sg])
            remotes |= {r.remote_group_id for r in intents[sg].rules if r.remote_group_id}
        for rg in sorted(remotes & set(intents)):
            out[sg_members_key(token, rg)] = _enc.encode(SgMembers(sg_id=rg, addresses=index.members(rg)))
    return out
