"""Apply ops to an observed model (pure): what OVS will look like after ``apply``.

Used by planner tests (converges / no-op / incremental == scratch) and by the worker
to derive port statuses after a successful apply without observing again.
"""

from __future__ import annotations

from netledger.services.l2.config import OWNER_KEY, OWNER_VALUE
from netledger.services.l2.ovs import ops as O
from netledger.services.l2.ovs.flows import flow_key
from netledger.services.l2.ovs.model import ObsBridge, ObsPort, OvsObserved
from netledger.services.l2.ovs.plan import LVID_KEY

_MARK = {OWNER_KEY: OWNER_VALUE}


def simulate(obs: OvsObserved, ops: list[O.Op]) -> OvsObserved:
    bridges, ports = dict(obs.bridges), dict(obs.ports)
    flows = {b: set(f) for b, f in obs.flows.items()}
    for op in ops:
        _one(op, bridges, ports, flows)
    return OvsObserved(bridges=bridges, ports=ports, flows={b: frozenset(f) for b, f in flows.items()})


def _one(op: O.Op, bridges: dict, ports: dict, flows: dict) -> None:
    match op:
        case O.AddBridge(name=n, fail_mode=m):
            old = bridges.get(n)
            ext = {**(old.external_ids if old else {}), **_MARK}
            bridges[n] = ObsBridge(name=n, fail_mode=m, mine=True, external_ids=ext)
            flows.setdefault(n, set())
        case O.DelBridge(name=n):
            bridges.pop(n, None)
            flows.pop(n, None)
            for pn in [pn for pn, p in ports.items() if p.bridge == n]:
                del ports[pn]
        case O.SetLocalVlan(bridge=b, network_id=net, vlan=v):
            br = bridges[b]
            bridges[b] = _with_ext(br, {**br.external_ids, LVID_KEY + net: str(v)})
        case O.DelLocalVlan(bridge=b, network_id=net):
            br = bridges[b]
            bridges[b] = _with_ext(br, {k: v for k, v in br.external_ids.items() if k != LVID_KEY + net})
        case O.AddPort(bridge=b, name=n, type=t, options=o):
            old = ports.get(n)   # may_exist: re-adding keeps the port (and its ofport)
            ofport = old.ofport if old is not None and old.bridge == b else 1000 + len(ports)
            ports[n] = ObsPort(name=n, bridge=b, type=t, options=dict(o), ofport=ofport, mine=True)
        case O.DelPort(name=n):
            ports.pop(n, None)
        case O.SetInterface(name=n, type=t, options=o):
            p = ports[n]
            ports[n] = ObsPort(**{**_fields(p), "type": t, "options": dict(o), "mine": True})
        case O.SetPortTag(name=n, tag=t):
            ports[n] = ObsPort(**{**_fields(ports[n]), "tag": t, "mine": True})
        case O.DelFlows(bridge=b, flows=fs):
            keys = {flow_key(f) for f in fs}
            flows[b] = {f for f in flows.get(b, ()) if flow_key(f) not in keys}
        case O.AddFlows(bridge=b, flows=fs):
            keys = {flow_key(f) for f in fs}
            flows[b] = {f for f in flows.get(b, ()) if flow_key(f) not in keys} | set(fs)


def _with_ext(br: ObsBridge, ext: dict[str, str]) -> ObsBridge:
    return ObsBridge(name=br.name, fail_mode=br.fail_mode, mine=br.mine, external_ids=ext)


def _fields(p: ObsPort) -> dict:
    return {f: getattr(p, f) for f in p.__struct_fields__}
