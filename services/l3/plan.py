"""The L3 planner (pure): a router's intent x what is really there -> ordered ops.

Invariants (tests/unit/test_planner_invariants.py, against tests/fakehost): applying the plan and planning again gives
[] (converges); planning a converged router gives [] (so a restart writes nothing);
planning from scratch and from any earlier state end in the same dataplane.
Only what carries our marks is removed: namespaces named <prefix>qrouter-<id>,
OVS ports with our owner mark, routes with our protocol number, our nft table.
Order: namespace, OVS ports and links, addresses, routes, NAT table, then
announcements; deletions of stale ports come first, the namespace goes last.
"""

from __future__ import annotations

import ipaddress

from netledger.libs.events.l3_intents import RouterIntent

from . import ops as O
from . import render_nft
from .config import L3Config, port_name
from .model import Seen, Want, WantPort


def want(intent: RouterIntent, cfg: L3Config) -> Want:
    ports = {}
    for itf in intent.interfaces:
        name = port_name("qr", itf.port_id)
        ports[name] = WantPort(name=name, port_id=itf.port_id, mac=itf.mac_address, mtu=itf.mtu,
                               cidrs=frozenset(itf.cidrs))
    routes = set()
    if intent.gateway is not None:
        gp = intent.gateway.port
        fips = frozenset(f"{f.floating_ip_address}/32" for f in intent.floating_ips)
        name = port_name("qg", gp.port_id)
        ports[name] = WantPort(name=name, port_id=gp.port_id, mac=gp.mac_address, mtu=gp.mtu,
                               cidrs=frozenset(gp.cidrs) | fips)
        if intent.gateway.gateway_ip:
            routes.add(("0.0.0.0/0", intent.gateway.gateway_ip))
    routes |= {(str(ipaddress.ip_network(r.destination)), r.nexthop) for r in intent.routes}
    return Want(router_id=intent.router_id, netns=cfg.netns(intent.router_id), ports=ports,
                routes=frozenset(routes), nft_text=render_nft.render(intent),
                nft_signature=render_nft.signature(intent), fips=render_nft.floating_ips(intent))


def plan(w: Want | None, s: Seen) -> list[O.Op]:
    if w is None:
        return teardown(s)
    ns = w.netns
    ops: list[O.Op] = [O.DelOvsPort(name=n) for n in sorted(set(s.ovs_ports) - set(w.ports))]
    if not s.netns_exists:
        ops.append(O.AddNetns(netns=ns))
    if not s.forwarding:
        ops.append(O.SetForwarding(netns=ns))
    announce: list[O.Op] = []
    for name in sorted(w.ports):
        ops += _port_ops(w.ports[name], s, ns, announce)
    ops += [O.DelRoute(netns=ns, destination=d, nexthop=h) for d, h in sorted(s.routes - w.routes)]
    ops += [O.ReplaceRoute(netns=ns, destination=d, nexthop=h) for d, h in sorted(w.routes - s.routes)]
    if s.nft_signature != w.nft_signature:
        ops.append(O.ReplaceNft(netns=ns, text=w.nft_text))
    ops += [O.ClearConntrack(netns=ns, address=a) for a in sorted(s.fips - w.fips)]
    return ops + announce


def _port_ops(p: WantPort, s: Seen, ns: str, announce: list[O.Op]) -> list[O.Op]:
    ops: list[O.Op] = []
    if s.ovs_ports.get(p.name) != p.port_id:
        ops.append(O.AddOvsPort(name=p.name, port_id=p.port_id, mac=p.mac, router_id=s.router_id))
    link = s.links.get(p.name)
    if link is None:
        ops.append(O.MoveLink(name=p.name, netns=ns))
    if link is None or (link.mac, link.mtu, link.up) != (p.mac, p.mtu, True):
        ops.append(O.SetLink(netns=ns, name=p.name, mac=p.mac, mtu=p.mtu))
    have = link.cidrs if link else frozenset()
    ops += [O.DelAddr(netns=ns, name=p.name, cidr=c) for c in sorted(have - p.cidrs)]
    added = sorted(p.cidrs - have)
    ops += [O.AddAddr(netns=ns, name=p.name, cidr=c) for c in added]
    # New addresses, or a port (re)plugged here: tell switches and peers where they are now.
    told = p.cidrs if link is None else added
    announce += [O.AnnounceAddr(netns=ns, name=p.name, address=c.split("/")[0]) for c in sorted(told)
                 if ":" not in c]
    return ops


def teardown(s: Seen) -> list[O.Op]:
    """OVS ports first (their taps vanish with them), then the namespace."""
    ops: list[O.Op] = [O.DelOvsPort(name=n) for n in sorted(s.ovs_ports)]
    if s.netns_exists:
        ops.append(O.DelNetns(netns=s.netns))
    return ops
