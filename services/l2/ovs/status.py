"""Port status from observed state (pure): ACTIVE only when really wired.

ACTIVE = the OVS interface with iface-id == port id exists on the integration bridge,
has an ofport, carries its network's local VLAN, and every flow that network needs
is installed. DOWN when unplugged, admin down or not (yet) wired; ERROR when this
host cannot wire the network at all (type unsupported, physnet unmapped, bad segment).
"""

from __future__ import annotations

from netledger.services.l2.config import AgentConfig
from netledger.services.l2.desired import HostDesired, PortState, active_networks
from netledger.services.l2.ovs.flows import network_flows
from netledger.services.l2.ovs.model import OvsObserved
from netledger.services.l2.ovs.plan import observed_lvids, phys_bridges


def port_states(desired: HostDesired, obs: OvsObserved, cfg: AgentConfig) -> dict[str, PortState]:
    active = active_networks(desired, cfg)
    lvids = observed_lvids(obs, cfg)
    phys = phys_bridges(obs, cfg)
    by_iface = obs.port_by_iface_id()
    out = {}
    for pid, intent in desired.ports.items():
        status, detail = _status(intent.network_id, intent.admin_state_up, by_iface.get(pid),
                                 active, lvids, phys, obs, cfg)
        out[pid] = PortState(status=status, detail=detail, revision_number=intent.revision_number)
    return out


def _status(net_id, admin_up, port, active, lvids, phys, obs, cfg) -> tuple[str, str]:
    if net_id in active.errors:
        return "ERROR", active.errors[net_id]
    if port is None or port.bridge != cfg.integration_bridge:
        return "DOWN", "not plugged"
    if port.ofport is None or port.ofport <= 0:
        return "DOWN", "interface has no ofport"
    if not admin_up:
        return "DOWN", "admin down"
    lvid = lvids.get(net_id)
    if lvid is None or port.tag != lvid:
        return "DOWN", "not wired"
    for br, flow in network_flows(cfg, active.valid[net_id], lvid, phys):
        if flow not in obs.flows.get(br, frozenset()):
            return "DOWN", "flows missing"
    return "ACTIVE", ""
