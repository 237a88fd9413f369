"""Port binding (ML2's mechanism drivers, pure): which vif a host can give a port."""

from __future__ import annotations

from collections.abc import Sequence

VIF_BY_BACKEND = {
    "openvswitch": ("ovs", {"port_filter": True, "ovs_hybrid_plug": False, "bridge_name": "br-int",
                            "datapath_type": "netdev", "connectivity": "l2"}),
    "linuxbridge": ("bridge", {"port_filter": True, "connectivity": "l2"}),
}


def bind(host: str, network: dict, live_agents: Sequence[dict]) -> tuple[str, dict]:
    """``unbound`` without a host; ``binding_failed`` when none of the live L2 workers on
    that host (``live_agents``, read by the caller at its own "now") serves the
    network's type (and physical network)."""
    if not host:
        return "unbound", {}
    ntype = network.get("provider:network_type") or "local"
    physnet = network.get("provider:physical_network")
    for agent in live_agents:
        if ntype not in agent.get("network_types", ()):
            continue
        if physnet and physnet not in agent.get("bridge_mappings", {}):
            continue
        vif_type, details = VIF_BY_BACKEND.get(agent.get("backend", ""), ("ovs", {}))
        return vif_type, dict(details)
    return "binding_failed", {}
