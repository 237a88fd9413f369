"""The Linux bridge planner (pure): desired host state x observed links -> ordered ops.

Invariants (tests/unit/test_l2_linuxbridge_plan.py): applying the plan to the
observed state and planning again gives [] (converges); planning a converged state
gives [] (re-apply is a no-op, so a restart writes nothing); planning from scratch
and incrementally end in the same state. Only links carrying our mark are deleted;
taps and physical interfaces are only enslaved, released or set up. A tap without a
usable intent (unknown port, admin down, unwirable network) is released from our
bridges, so it talks to no one (Neutron's linuxbridge agent does the same).
"""

from __future__ import annotations

from netledger.services.l2.config import AgentConfig
from netledger.services.l2.desired import HostDesired, active_networks
from netledger.services.l2.driver_plug import tap_name
from netledger.services.l2.linuxbridge import ops as O
from netledger.services.l2.linuxbridge.layout import Layout, WantLink, wanted
from netledger.services.l2.linuxbridge.model import BridgeObserved, ObsLink
from netledger.services.l2.linuxbridge.sim import simulate
from netledger.services.l2.linuxbridge.sg import plan_adds, plan_removals, wanted_sg


def plan(desired: HostDesired, obs: BridgeObserved, cfg: AgentConfig) -> list[O.Op]:
    """Anti-spoofing guards and security group tables are in place (and br_netfilter
    on) before any tap is enslaved or set up, so a port never forwards unfiltered or
    unguarded (see ``sg``); a filtered port without a mark slot is not wired at all."""
    nets = active_networks(desired, cfg).valid
    sg = wanted_sg(desired, nets, obs)
    want = _unwire(wanted(desired, nets, obs, cfg), {tap_name(p) for p in sg.unmarked})
    tables, guards = sg.tables, sg.guards
    removals = _removals(want, obs) + plan_removals(tables, guards, obs)
    mid = simulate(obs, removals)
    adds = _link_adds(want, mid)
    mid = simulate(mid, adds)
    fixes = _fixes(want, mid) + plan_adds(tables, guards, mid)
    mid = simulate(mid, fixes)
    return removals + adds + fixes + _wiring(want, mid) + _flood_adds(want, mid)


def _unwire(want: Layout, taps: set[str]) -> Layout:
    """``want`` without these taps enslaved (so they are released if they were)."""
    if not taps:
        return want
    return Layout(links=want.links, masters={s: b for s, b in want.masters.items() if s not in taps},
                  flood=want.flood)


def _mismatch(w: WantLink | None, link: ObsLink) -> bool:
    """A link of ours that must go: unwanted, or a shape that netlink cannot change."""
    if w is None:
        return True
    return w.kind != link.kind or (w.kind == "vxlan" and (w.vni != link.vni or w.local != link.local))


def _removals(want: Layout, obs: BridgeObserved) -> list[O.Op]:
    doomed = sorted((n for n, ln in obs.links.items() if ln.mine and _mismatch(want.links.get(n), ln)),
                    key=lambda n: (obs.links[n].kind == "bridge", n))     # vxlan before bridges
    gone = set(doomed)
    ops: list[O.Op] = []
    for dev in sorted(d for d in obs.fdb if d in want.links and d not in gone):
        extra = obs.flood(dev) - want.flood.get(dev, frozenset())
        ops += [O.DelFlood(dev=dev, dst=dst) for dst in sorted(extra)]
    ours = {n for n, ln in obs.links.items() if ln.kind == "bridge" and (ln.mine or n in want.links)}
    for name, link in sorted(obs.links.items()):
        if name in gone or name in want.masters:
            continue
        if link.master in ours and link.master not in gone:
            ops.append(O.SetMaster(name=name, master=""))
    return ops + [O.DelLink(name=n) for n in doomed]


def _link_adds(want: Layout, obs: BridgeObserved) -> list[O.Op]:
    new = sorted((w for n, w in want.links.items() if n not in obs.links),
                 key=lambda w: (w.kind != "bridge", w.name))              # bridges first
    return [O.AddLink(name=w.name, kind=w.kind, vni=w.vni, local=w.local, mtu=w.mtu) for w in new]


def _fixes(want: Layout, obs: BridgeObserved) -> list[O.Op]:
    ops: list[O.Op] = []
    for name, w in sorted(want.links.items()):
        link = obs.links[name]
        if not link.mine and not _mismatch(w, link):
            ops.append(O.MarkLink(name=name))
        if w.mtu and link.mtu != w.mtu:
            ops.append(O.SetMtu(name=name, mtu=w.mtu))
    return ops


def _wiring(want: Layout, obs: BridgeObserved) -> list[O.Op]:
    """Enslave, then set up: a tap comes up only once it is in its network's bridge."""
    ops: list[O.Op] = [O.SetMaster(name=s, master=br) for s, br in sorted(want.masters.items())
                       if s in obs.links and obs.links[s].master != br]
    names = sorted(set(want.links) | set(want.masters))
    return ops + [O.SetUp(name=n) for n in names if n in obs.links and not obs.links[n].up]


def _flood_adds(want: Layout, obs: BridgeObserved) -> list[O.Op]:
    return [O.AddFlood(dev=dev, dst=dst) for dev, dsts in sorted(want.flood.items())
            for dst in sorted(dsts - obs.flood(dev))]
