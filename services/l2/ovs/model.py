"""What the OVS mechanism observes: bridges, ports and *our* flows, as plain values.

Flows are kept per bridge as a frozenset of normalized strings (see ``flows.normalize``)
so that planning them is a set difference. Only flows carrying our cookie are read.
"""

from __future__ import annotations

import msgspec

DEAD_VLAN = 4095     # Neutron's dead VLAN: a port here talks to no one


class ObsBridge(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    fail_mode: str = ""
    mine: bool = False
    external_ids: dict[str, str] = {}


class ObsPort(msgspec.Struct, frozen=True, kw_only=True):
    """A Port row with its (single) Interface row folded in."""

    name: str
    bridge: str
    type: str = ""                  # interface type: "", internal, patch, vxlan, ...
    options: dict[str, str] = {}
    tag: int | None = None
    ofport: int = -1                # -1: vswitchd could not open it (or not yet)
    iface_id: str = ""              # external_ids:iface-id set by os-vif / plug
    mine: bool = False              # carries our owner mark


class OvsObserved(msgspec.Struct, frozen=True, kw_only=True):
    bridges: dict[str, ObsBridge] = {}
    ports: dict[str, ObsPort] = {}
    flows: dict[str, frozenset[str]] = {}

    def port_by_iface_id(self) -> dict[str, ObsPort]:
        """iface-id -> port on br-int-like bridges; the first by name wins on duplicates."""
        out: dict[str, ObsPort] = {}
        for name in sorted(self.ports):
            p = self.ports[name]
            if p.iface_id and p.iface_id not in out:
                out[p.iface_id] = p
        return out
