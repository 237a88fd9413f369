"""The OVS planner (pure): desired host state x observed OVS -> ordered ops.

Invariants (tests/unit/test_l2_ovs_plan.py): applying the plan to the observed state
and planning again gives [] (converges); planning a converged state gives [] (re-apply
is a no-op, so a restart writes nothing); planning from scratch and incrementally end
in the same state up to the numbering of local VLANs (which is host-private).
Only marked objects and flows with our cookie are ever deleted; instance ports (those
with an iface-id) are never deleted, only tagged (a local VLAN, or the dead VLAN when
they have no usable intent, so an unknown port never acts as a trunk).
"""

from __future__ import annotations

from netledger.libs.events.intents import L2Network
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.desired import HostDesired, active_networks
from netledger.services.l2.ovs import ops as O
from netledger.services.l2.ovs.flows import flow_key, render_flows
from netledger.services.l2.ovs.layout import OwnedPort, desired_bridges, desired_ports
from netledger.services.l2.ovs.model import DEAD_VLAN, OvsObserved
from netledger.services.l2.sg.ovs_plan import sg_flows

LVID_KEY = "netledger-lvid-"


def observed_lvids(obs: OvsObserved, cfg: AgentConfig) -> dict[str, int]:
    br = obs.bridges.get(cfg.integration_bridge)
    if br is None:
        return {}
    out = {}
    for k, v in br.external_ids.items():
        if k.startswith(LVID_KEY) and v.isdigit() and 1 <= int(v) < DEAD_VLAN:
            out[k[len(LVID_KEY):]] = int(v)
    return out


def assign_lvids(nets: dict[str, L2Network], current: dict[str, int]) -> dict[str, int]:
    """Keep every active network's VLAN; give new ones the lowest free (sorted by id)."""
    kept = {n: v for n, v in current.items() if n in nets}
    used = set(kept.values())
    free = (v for v in range(1, DEAD_VLAN) if v not in used)
    for net_id in sorted(set(nets) - set(kept)):
        kept[net_id] = next(free)
    return kept


def phys_bridges(obs: OvsObserved, cfg: AgentConfig) -> set[str]:
    """Mapped physical bridges that exist: the operator creates them, we patch them."""
    return {br for br in cfg.bridge_mappings.values() if br in obs.bridges}


def plan(desired: HostDesired, obs: OvsObserved, cfg: AgentConfig) -> list[O.Op]:
    nets = active_networks(desired, cfg).valid
    phys = phys_bridges(obs, cfg)
    current = observed_lvids(obs, cfg)
    lvids = assign_lvids(nets, current)
    want_bridges = desired_bridges(cfg)
    want_ports = desired_ports(cfg, nets, phys)
    want_flows = render_flows(cfg, nets, lvids, phys)
    br_int = cfg.integration_bridge
    want_flows = {**want_flows, br_int: want_flows[br_int] | sg_flows(desired, obs, br_int, nets, lvids)}
    doomed = {b for b, ob in obs.bridges.items() if ob.mine and b not in want_bridges}
    ops: list[O.Op] = _flow_deletes(want_flows, obs, doomed)
    ops += [O.DelBridge(name=b) for b in sorted(doomed)]
    ops += [O.DelPort(bridge=p.bridge, name=p.name) for p in _stale_ports(want_ports, obs, doomed)]
    ops += [O.AddBridge(name=b, fail_mode=m) for b, m in sorted(want_bridges.items())
            if b not in obs.bridges]
    ops += _bridge_fixes(want_bridges, obs)
    ops += _lvid_ops(cfg, current, lvids)
    ops += _port_ops(want_ports, obs)
    ops += _tag_ops(desired, obs, cfg, nets, lvids)
    ops += _flow_adds(want_flows, obs)
    return ops


def _flow_deletes(want: dict[str, frozenset[str]], obs: OvsObserved, doomed: set[str]) -> list[O.Op]:
    ops: list[O.Op] = []
    for br in sorted(obs.flows):
        if br in doomed:
            continue
        keys = {flow_key(f) for f in want.get(br, ())}
        gone = sorted(f for f in obs.flows[br] if flow_key(f) not in keys)
        if gone:
            ops.append(O.DelFlows(bridge=br, flows=tuple(gone)))
    return ops


def _flow_adds(want: dict[str, frozenset[str]], obs: OvsObserved) -> list[O.Op]:
    ops: list[O.Op] = []
    for br in sorted(want):
        new = sorted(want[br] - obs.flows.get(br, frozenset()))
        if new:
            ops.append(O.AddFlows(bridge=br, flows=tuple(new)))
    return ops


def _stale_ports(want: dict[str, OwnedPort], obs: OvsObserved, doomed: set[str]):
    for name in sorted(obs.ports):
        p = obs.ports[name]
        if not p.mine or p.iface_id or p.bridge in doomed:
            continue
        w = want.get(name)
        if w is None or w.bridge != p.bridge:
            yield p


def _bridge_fixes(want: dict[str, str], obs: OvsObserved) -> list[O.Op]:
    """Re-assert fail_mode and mark on our bridges if edited out of band."""
    return [O.AddBridge(name=b, fail_mode=m) for b, m in sorted(want.items())
            if b in obs.bridges and (obs.bridges[b].fail_mode != m or not obs.bridges[b].mine)]


def _lvid_ops(cfg: AgentConfig, current: dict[str, int], lvids: dict[str, int]) -> list[O.Op]:
    br = cfg.integration_bridge
    ops: list[O.Op] = [O.DelLocalVlan(bridge=br, network_id=n) for n in sorted(set(current) - set(lvids))]
    ops += [O.SetLocalVlan(bridge=br, network_id=n, vlan=v) for n, v in sorted(lvids.items())
            if current.get(n) != v]
    return ops


def _port_ops(want: dict[str, OwnedPort], obs: OvsObserved) -> list[O.Op]:
    ops: list[O.Op] = []
    for name in sorted(want):
        w, p = want[name], obs.ports.get(name)
        if p is None or p.bridge != w.bridge:
            ops.append(O.AddPort(bridge=w.bridge, name=name, type=w.type, options=w.options))
        elif p.type != w.type or p.options != w.options or not p.mine:
            ops.append(O.SetInterface(name=name, type=w.type, options=w.options))
    return ops


def wanted_tag(port_id: str, desired: HostDesired, nets: dict[str, L2Network],
               lvids: dict[str, int]) -> int:
    intent = desired.ports.get(port_id)
    if intent is None or not intent.admin_state_up or intent.network_id not in nets:
        return DEAD_VLAN
    return lvids[intent.network_id]


def _tag_ops(desired: HostDesired, obs: OvsObserved, cfg: AgentConfig,
             nets: dict[str, L2Network], lvids: dict[str, int]) -> list[O.Op]:
    ops: list[O.Op] = []
    for iface_id, p in sorted(obs.port_by_iface_id().items()):
        if p.bridge != cfg.integration_bridge:
            continue
        tag = wanted_tag(iface_id, desired, nets, lvids)
        if p.tag != tag or not p.mine:
            ops.append(O.SetPortTag(name=p.name, tag=tag))
    return ops
