"""What a host should have, from its intents (backend-neutral, pure).

A network is *active* on a host while at least one port intent on the host uses it:
only then does it get a local VLAN, flows and tunnels. The network intent is
authoritative for the segment and the peers; a port intent alone still carries the
segment, so a port can be wired before its network intent arrives (without peers).
"""

from __future__ import annotations

import msgspec

from netledger.libs.events.intents import L2Network, L2Port, SecurityGroupIntent, SgMembers
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.types import TYPE_DRIVERS


class HostDesired(msgspec.Struct, frozen=True, kw_only=True):
    ports: dict[str, L2Port] = {}
    networks: dict[str, L2Network] = {}
    security_groups: dict[str, SecurityGroupIntent] = {}   # see services/l2/sg
    sg_members: dict[str, SgMembers] = {}


class ActiveNetworks(msgspec.Struct, frozen=True, kw_only=True):
    """Active networks this host can wire, and why the others cannot be wired."""

    valid: dict[str, L2Network] = {}
    errors: dict[str, str] = {}


class PortState(msgspec.Struct, frozen=True, kw_only=True):
    """What a worker reports for a port: ACTIVE, DOWN or ERROR (with why)."""

    status: str
    revision_number: int = 0
    detail: str = ""


def from_intents(intents: dict) -> HostDesired:
    ports = {v.port_id: v for v in intents.values() if isinstance(v, L2Port)}
    nets = {v.network_id: v for v in intents.values() if isinstance(v, L2Network)}
    sgs = {v.sg_id: v for v in intents.values() if isinstance(v, SecurityGroupIntent)}
    members = {v.sg_id: v for v in intents.values() if isinstance(v, SgMembers)}
    return HostDesired(ports=ports, networks=nets, security_groups=sgs, sg_members=members)


def _network_of(port: L2Port, desired: HostDesired) -> L2Network:
    net = desired.networks.get(port.network_id)
    if net is not None:
        return net
    return L2Network(network_id=port.network_id, network_type=port.network_type,
                     segmentation_id=port.segmentation_id,
                     physical_network=port.physical_network, mtu=port.mtu)


def active_networks(desired: HostDesired, cfg: AgentConfig) -> ActiveNetworks:
    valid: dict[str, L2Network] = {}
    errors: dict[str, str] = {}
    for port in desired.ports.values():
        if port.network_id in valid or port.network_id in errors:
            continue
        net = _network_of(port, desired)
        err = check_network(net, cfg)
        if err:
            errors[net.network_id] = err
        else:
            valid[net.network_id] = net
    return ActiveNetworks(valid=valid, errors=errors)


def check_network(net: L2Network, cfg: AgentConfig) -> str:
    """Empty if this host can wire the network, else the reason (reported as ERROR)."""
    d = TYPE_DRIVERS.get(net.network_type)
    if d is None or net.network_type not in cfg.network_types:
        return f"network type {net.network_type!r} not supported on this host"
    if d.physnet == "required" and net.physical_network not in cfg.bridge_mappings:
        return f"physical network {net.physical_network!r} has no bridge mapping"
    if d.segmented and not (net.segmentation_id and d.seg_min <= net.segmentation_id <= d.seg_max):
        return f"invalid segmentation id {net.segmentation_id!r} for {net.network_type}"
    return ""
