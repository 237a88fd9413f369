"""The L2 agent's configuration: one frozen value, built once from the command line."""

from __future__ import annotations

import os

import msgspec

from netledger.services.l2.types import host_network_types

OWNER_KEY = "netledger-owner"       # external_ids key marking what we created/own
OWNER_VALUE = "netledger-l2"
COOKIE = 0x4E4C4C3200000001          # "NLL2": every flow we install carries it
# Types a backend can wire at all (no entry: all). The kernel here has no VLAN, GRE or
# Geneve devices, so a Linux bridge host serves only these; binding follows heartbeats.
BACKEND_TYPES = {"linuxbridge": ("local", "flat", "vxlan"), "lb": ("local", "flat", "vxlan")}


class AgentConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a worker needs to know about its host; runtime state lives elsewhere."""

    host: str
    backend: str = "openvswitch"
    tunnel_ip: str = ""
    bridge_mappings: dict[str, str] = {}
    ovsdb: str = "unix:/var/run/openvswitch/db.sock"
    ovs_rundir: str = ""                 # where <bridge>.mgmt sockets live
    integration_bridge: str = "br-int"
    tunnel_bridge: str = "br-tun"
    resync_interval: float = 10.0        # cheap full observe: repairs out-of-band edits
    heartbeat_interval: float = 10.0
    netns: str = ""                      # linuxbridge: the host's netns ("" = ours)

    @property
    def network_types(self) -> tuple[str, ...]:
        types = host_network_types(self.tunnel_ip, self.bridge_mappings)
        allowed = BACKEND_TYPES.get(self.backend)
        return tuple(t for t in types if allowed is None or t in allowed)

    @property
    def rundir(self) -> str:
        """The mgmt socket dir: explicit, or the dir of a unix: ovsdb socket."""
        if self.ovs_rundir:
            return self.ovs_rundir
        if self.ovsdb.startswith("unix:"):
            return os.path.dirname(self.ovsdb[5:])
        return "/var/run/openvswitch"


def parse_bridge_mappings(text: str) -> dict[str, str]:
    """``physnet1:br-ex,physnet2:br-ex2`` -> {physnet: bridge}; rejects duplicates."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in (text or "").split(","))):
        physnet, sep, bridge = item.partition(":")
        if not sep or not physnet or not bridge:
            raise ValueError(f"bad bridge mapping {item!r}: expected physnet:bridge")
        if physnet in out or bridge in out.values():
            raise ValueError(f"duplicate bridge mapping {item!r}")
        out[physnet] = bridge
    return out
