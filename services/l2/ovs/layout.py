"""Names and owned objects of the OVS layout (pure): bridges, patch and tunnel ports.

Naming follows Neutron's OVS agent so operators recognise it: ``patch-tun`` /
``patch-int`` between br-int and br-tun, ``int-<br>`` / ``phy-<br>`` to a physical
bridge, ``<type>-<hex peer ip>`` for tunnel ports (one per type and peer, key=flow:
the VNI is chosen per packet by flows, so one port serves every network).
"""

from __future__ import annotations

import ipaddress

import msgspec

from netledger.libs.events.intents import L2Network
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.types import TYPE_DRIVERS

PATCH_TUN = "patch-tun"
PATCH_INT = "patch-int"
# br-tun table per tunnel type for packets coming from tunnels (as Neutron): the same
# key means different networks on different types, so they are matched apart.
TUN_TABLE = {"gre": 3, "vxlan": 4, "geneve": 6}
_PREFIX = {"vxlan": "vxlan", "gre": "gre", "geneve": "genev"}


class OwnedPort(msgspec.Struct, frozen=True, kw_only=True):
    bridge: str
    name: str
    type: str
    options: dict[str, str] = {}


def int_patch(bridge: str) -> str:
    return f"int-{bridge}"[:15]


def phy_patch(bridge: str) -> str:
    return f"phy-{bridge}"[:15]


def tunnel_port_name(network_type: str, peer_ip: str) -> str:
    return f"{_PREFIX[network_type]}-{ipaddress.ip_address(peer_ip).packed.hex()}"


def is_tunnel(net: L2Network) -> bool:
    d = TYPE_DRIVERS.get(net.network_type)
    return bool(d and d.tunnel)


def tunnel_peers(net: L2Network, cfg: AgentConfig) -> tuple[str, ...]:
    """Peers of a tunnelled network, without ourselves, sorted and unique."""
    return tuple(sorted({p for p in net.peers if p and p != cfg.tunnel_ip}))


def desired_bridges(cfg: AgentConfig) -> dict[str, str]:
    """Bridges we create and own -> fail_mode (secure: nothing flows without our flows)."""
    out = {cfg.integration_bridge: "secure"}
    if cfg.tunnel_ip:
        out[cfg.tunnel_bridge] = "secure"
    return out


def desired_ports(cfg: AgentConfig, nets: dict[str, L2Network],
                  phys_bridges: set[str]) -> dict[str, OwnedPort]:
    """Patch ports always; a tunnel port per (type, peer) while a network needs it."""
    ports: list[OwnedPort] = []
    if cfg.tunnel_ip:
        ports.append(OwnedPort(bridge=cfg.integration_bridge, name=PATCH_TUN, type="patch",
                               options={"peer": PATCH_INT}))
        ports.append(OwnedPort(bridge=cfg.tunnel_bridge, name=PATCH_INT, type="patch",
                               options={"peer": PATCH_TUN}))
    for br in sorted(phys_bridges):
        ports.append(OwnedPort(bridge=cfg.integration_bridge, name=int_patch(br), type="patch",
                               options={"peer": phy_patch(br)}))
        ports.append(OwnedPort(bridge=br, name=phy_patch(br), type="patch",
                               options={"peer": int_patch(br)}))
    for net in nets.values():
        if not is_tunnel(net):
            continue
        for peer in tunnel_peers(net, cfg):
            ports.append(OwnedPort(bridge=cfg.tunnel_bridge, name=tunnel_port_name(net.network_type, peer),
                                   type=net.network_type,
                                   options={"remote_ip": peer, "local_ip": cfg.tunnel_ip, "key": "flow"}))
    return {p.name: p for p in ports}
