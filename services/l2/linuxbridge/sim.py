"""Apply ops to an observed model (pure): what the host will look like after ``apply``.

Used by the planner (it plans removals, then additions against the simulated result),
by planner tests (converges / no-op / incremental == scratch) and by the worker to
derive port statuses after a successful apply without observing again.
"""

from __future__ import annotations

from netledger.services.l2.linuxbridge import ops as O
from netledger.services.l2.linuxbridge.model import BridgeObserved, ObsLink


def simulate(obs: BridgeObserved, ops: list[O.Op]) -> BridgeObserved:
    links = dict(obs.links)
    fdb = {d: set(v) for d, v in obs.fdb.items()}
    nft = {"inet": dict(obs.nft), "bridge": dict(obs.nft_bridge)}
    nf = obs.nf_call_iptables, obs.nf_call_ip6tables
    for op in ops:
        match op:
            case O.ReplaceNftTable(name=n, digest=d, family=fam):
                nft[fam][n] = d
            case O.DelNftTable(name=n, family=fam):
                nft[fam].pop(n, None)
            case O.SetBridgeNf(on=on):
                nf = on, on
            case _:
                _one(op, links, fdb)
    return BridgeObserved(links=links, fdb={d: frozenset(v) for d, v in fdb.items()}, nft=nft["inet"],
                      nft_bridge=nft["bridge"], nf_call_iptables=nf[0], nf_call_ip6tables=nf[1])


def _with(link: ObsLink, **changes) -> ObsLink:
    return ObsLink(**{**{f: getattr(link, f) for f in link.__struct_fields__}, **changes})


def _one(op: O.Op, links: dict[str, ObsLink], fdb: dict[str, set[str]]) -> None:
    match op:
        case O.AddLink(name=n, kind=k, vni=v, local=loc, mtu=m):
            links[n] = ObsLink(name=n, kind=k, mine=True, vni=v, local=loc, mtu=m)
            if k == "vxlan":
                fdb[n] = set()
        case O.DelLink(name=n):
            links.pop(n, None)
            fdb.pop(n, None)
            for s, link in list(links.items()):     # the kernel releases its slaves
                if link.master == n:
                    links[s] = _with(link, master="")
        case O.MarkLink(name=n):
            links[n] = _with(links[n], mine=True)
        case O.SetMtu(name=n, mtu=m):
            links[n] = _with(links[n], mtu=m)
        case O.SetMaster(name=n, master=m):
            links[n] = _with(links[n], master=m)
        case O.SetUp(name=n):
            links[n] = _with(links[n], up=True)
        case O.AddFlood(dev=d, dst=dst):
            fdb.setdefault(d, set()).add(dst)
        case O.DelFlood(dev=d, dst=dst):
            fdb.get(d, set()).discard(dst)
