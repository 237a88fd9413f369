"""Names and the wanted layout of a Linux bridge host (pure).

Naming follows Neutron's linuxbridge agent so operators recognise it: ``brq-`` plus
the first 11 characters of the network id (15-character kernel limit), ``vxlan-<vni>``.
Only links we create (bridges, VXLAN devices) are ours; taps and physical interfaces
are only enslaved/released and set up.
"""

from __future__ import annotations

import msgspec

from netledger.libs.events.intents import L2Network
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.desired import HostDesired
from netledger.services.l2.driver_plug import tap_name
from netledger.services.l2.linuxbridge.model import BridgeObserved
from netledger.services.l2.ovs.layout import tunnel_peers

BRIDGE_PREFIX = "brq-"
VXLAN_PREFIX = "vxlan-"


class WantLink(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    kind: str
    vni: int | None = None
    local: str = ""
    mtu: int = 0                    # 0: not managed (a bridge follows its slaves)


class Layout(msgspec.Struct, frozen=True, kw_only=True):
    """links: ours to create; masters: slave -> bridge; flood: vxlan dev -> peers."""

    links: dict[str, WantLink] = {}
    masters: dict[str, str] = {}
    flood: dict[str, frozenset[str]] = {}


def bridge_name(network_id: str) -> str:
    return f"{BRIDGE_PREFIX}{network_id[:11]}"


def vxlan_name(vni: int) -> str:
    return f"{VXLAN_PREFIX}{vni}"


def physical_interfaces(nets: dict[str, L2Network], cfg: AgentConfig) -> dict[str, str]:
    """flat network id -> mapped interface; an interface serves one network (lowest id)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for net_id in sorted(nets):
        net = nets[net_id]
        iface = cfg.bridge_mappings.get(net.physical_network or "")
        if net.network_type == "flat" and iface and iface not in taken:
            out[net_id] = iface
            taken.add(iface)
    return out


def wanted(desired: HostDesired, nets: dict[str, L2Network], obs: BridgeObserved,
           cfg: AgentConfig) -> Layout:
    """The host as it should be; taps and physical interfaces only if they exist."""
    links: dict[str, WantLink] = {}
    masters: dict[str, str] = {}
    flood: dict[str, frozenset[str]] = {}
    phys = physical_interfaces(nets, cfg)
    for net_id, net in sorted(nets.items()):
        br = bridge_name(net_id)
        links[br] = WantLink(name=br, kind="bridge")
        if net.network_type == "vxlan":
            vx = vxlan_name(net.segmentation_id or 0)
            links[vx] = WantLink(name=vx, kind="vxlan", vni=net.segmentation_id,
                                 local=cfg.tunnel_ip, mtu=net.mtu)
            masters[vx] = br
            flood[vx] = frozenset(tunnel_peers(net, cfg))
        elif net_id in phys and phys[net_id] in obs.links:
            masters[phys[net_id]] = br
    for pid, port in sorted(desired.ports.items()):
        tap = tap_name(pid)
        if port.admin_state_up and port.network_id in nets and tap in obs.links:
            masters[tap] = bridge_name(port.network_id)
    return Layout(links=links, masters=masters, flood=flood)


def network_links(net: L2Network, cfg: AgentConfig) -> list[str]:
    """The links a network's ports depend on (bridge, then its uplink), for status."""
    br = bridge_name(net.network_id)
    if net.network_type == "vxlan":
        return [br, vxlan_name(net.segmentation_id or 0)]
    if net.network_type == "flat":
        return [br, cfg.bridge_mappings.get(net.physical_network or "", "")]
    return [br]
