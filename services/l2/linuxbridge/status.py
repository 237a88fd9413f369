"""Port status from observed state (pure): ACTIVE only when really wired.

ACTIVE = the port's tap is enslaved to its network's bridge and up, the bridge is
up, the network's uplink (VXLAN device with a flood entry for every peer, or the
mapped physical interface) is enslaved to it and up, and, for a filtered port, its
nft table and its anti-spoofing guard carry the wanted digests with br_netfilter on.
DOWN when unplugged, admin down or not (yet) wired, or filtered without a free mark
slot (``sg.marks``: such a port is kept off the bridge); ERROR when this host cannot
wire the network at all.
"""

from __future__ import annotations

from netledger.libs.events.intents import L2Network, L2Port
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.desired import ActiveNetworks, HostDesired, PortState, active_networks
from netledger.services.l2.driver_plug import tap_name
from netledger.services.l2.linuxbridge.layout import bridge_name, network_links, vxlan_name
from netledger.services.l2.linuxbridge.model import BridgeObserved
from netledger.services.l2.linuxbridge.sg import NftTable, wanted_sg
from netledger.services.l2.sg.render_nft import table_name
from netledger.services.l2.sg.render_nft_bridge import guard_table_name
from netledger.services.l2.ovs.layout import tunnel_peers


def port_states(desired: HostDesired, obs: BridgeObserved, cfg: AgentConfig) -> dict[str, PortState]:
    active = active_networks(desired, cfg)
    sg = wanted_sg(desired, active.valid, obs)
    tables, guards = sg.tables, sg.guards
    out = {}
    for pid, intent in desired.ports.items():
        status, detail = _status(intent, active, obs, cfg)
        if pid in sg.unmarked:
            status, detail = "DOWN", "no free packet mark on this host (kept off the bridge)"
        if status == "ACTIVE":
            status, detail = _sg_status(tables.get(table_name(pid)), guards.get(guard_table_name(pid)), obs)
        out[pid] = PortState(status=status, detail=detail, revision_number=intent.revision_number)
    return out


def _status(port: L2Port, active: ActiveNetworks, obs: BridgeObserved, cfg: AgentConfig) -> tuple[str, str]:
    if port.network_id in active.errors:
        return "ERROR", active.errors[port.network_id]
    tap = obs.links.get(tap_name(port.port_id))
    if tap is None:
        return "DOWN", "not plugged"
    if not port.admin_state_up:
        return "DOWN", "admin down"
    net = active.valid[port.network_id]
    if tap.master != bridge_name(net.network_id) or not tap.up:
        return "DOWN", "not wired"
    return _network_status(net, obs, cfg)


def _network_status(net: L2Network, obs: BridgeObserved, cfg: AgentConfig) -> tuple[str, str]:
    br = bridge_name(net.network_id)
    for name in network_links(net, cfg):
        link = obs.links.get(name)
        if link is None or not link.up or (name != br and link.master != br):
            return "DOWN", f"{name or 'uplink'} not wired"
    if net.network_type == "vxlan":
        missing = set(tunnel_peers(net, cfg)) - obs.flood(vxlan_name(net.segmentation_id or 0))
        if missing:
            return "DOWN", f"flood entries missing for {sorted(missing)}"
    return "ACTIVE", ""


def _sg_status(table: NftTable | None, guard: NftTable | None, obs: BridgeObserved) -> tuple[str, str]:
    if table is None:
        return "ACTIVE", ""
    if obs.nft.get(table.name) != table.digest or not (obs.nf_call_iptables and obs.nf_call_ip6tables):
        return "DOWN", "security groups not applied"
    if guard is not None and obs.nft_bridge.get(guard.name) != guard.digest:
        return "DOWN", "anti-spoofing not applied"
    return "ACTIVE", ""
