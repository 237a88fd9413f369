"""A fake router host: L3 ops applied to an in-memory ``Seen`` (pure, for planner tests).

Written from what each op does on a real host (see services/l3/driver_router.py), not
from the planner, so the invariants check the planner against the host, not itself.
"""

from __future__ import annotations

import msgspec

from netledger.services.l3 import ops as O
from netledger.services.l3 import render_nft
from netledger.services.l3.model import ObsLink, Seen


def apply(s: Seen, ops: list[O.Op]) -> Seen:
    """What observing the router after the driver applied ``ops`` would show."""
    links = dict(s.links)
    ovs, routes, nsx, fwd = dict(s.ovs_ports), set(s.routes), s.netns_exists, s.forwarding
    sig, fips = s.nft_signature, set(s.fips)
    for op in ops:
        match op:
            case O.AddNetns():
                nsx = True
            case O.DelNetns():
                nsx, links, routes, fwd, sig, fips = False, {}, set(), False, None, set()
            case O.SetForwarding():
                fwd = True
            case O.AddOvsPort():
                ovs[op.name] = op.port_id
            case O.DelOvsPort():
                ovs.pop(op.name, None)
                links.pop(op.name, None)
            case O.MoveLink():
                links[op.name] = links.get(op.name) or _empty(op.name)
            case O.SetLink():
                links[op.name] = msgspec.structs.replace(links[op.name], mac=op.mac, mtu=op.mtu, up=True)
            case O.AddAddr() | O.DelAddr():
                link = links[op.name]
                cidrs = link.cidrs | {op.cidr} if isinstance(op, O.AddAddr) else link.cidrs - {op.cidr}
                links[op.name] = msgspec.structs.replace(link, cidrs=frozenset(cidrs))
            case O.ReplaceRoute():
                routes.add((op.destination, op.nexthop))
            case O.DelRoute():
                routes.discard((op.destination, op.nexthop))
            case O.ReplaceNft():
                sig, fips = _sig_of_text(op.text)
    return msgspec.structs.replace(s, netns_exists=nsx, links=links, ovs_ports=ovs, routes=frozenset(routes),
                                   forwarding=fwd, nft_signature=sig, fips=frozenset(fips), in_host=frozenset())


def _empty(name: str) -> ObsLink:
    return ObsLink(name=name)


def _sig_of_text(text: str) -> tuple[tuple[str, ...], set[str]]:
    """Signature of a rendered table, as reading it back would give it."""
    doc, chain = {"nftables": []}, ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("chain "):
            chain = line.split()[1]
            doc["nftables"].append({"chain": {"name": chain}})
        elif 'comment "' in line:
            doc["nftables"].append({"rule": {"chain": chain, "comment": line.split('comment "')[1].rstrip('"')}})
    sig, fips = render_nft.parse_observed(doc)
    return sig, set(fips)
