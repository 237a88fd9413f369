"""OpenFlow rules as normalized strings (pure): render what we want, normalize what is.

Normal form: ``table=T,priority=P[,match tokens sorted] actions=A`` with no quotes and
numbers as ``ovs-ofctl dump-flows --names`` prints them (tun_id and set_tunnel in hex),
so that a rendered flow and the same flow read back compare equal and the plan is a
set difference. Flows are keyed by their match (table, priority, match): adding a flow
with the same key replaces it, so changed actions need no delete.
"""

from __future__ import annotations

import functools
import re

from netledger.libs.events.intents import L2Network
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.ovs.layout import (
    PATCH_INT, TUN_TABLE, int_patch, is_tunnel, phy_patch, tunnel_peers, tunnel_port_name,
)

_STATS = ("cookie=", "duration=", "n_packets=", "n_bytes=", "idle_age=", "hard_age=")


_TUN_LOAD = re.compile(r"(?:set_tunnel:|set_field:)(0x[0-9a-f]+|\d+)(?:->tun_id)?")


def _tun_action(m: re.Match) -> str:
    return f"load:{int(m.group(1), 0):#x}->NXM_NX_TUN_ID[]"


@functools.lru_cache(maxsize=1 << 18)
def normalize(line: str) -> str:
    """One flow (dump line or rendered) -> normal form; idempotent.

    Cached: every reconcile renders and dumps the same flows again (19,000 of them at
    1,000 filtered ports), and re-parsing them dominated the batch time.

    ``set_tunnel:K`` is written as OVS stores it when added through a bundle
    (OpenFlow 1.4: a set-field), which dumps as ``load:K->NXM_NX_TUN_ID[]``.
    """
    line = line.strip().replace('"', "")
    match, _, actions = line.partition(" actions=")
    if not _:
        match, _, actions = line.partition(",actions=")
    table, prio, rest = "0", "32768", []
    for tok in (t.strip() for t in match.split(",")):
        if not tok or tok.startswith(_STATS):
            continue
        if tok.startswith("table="):
            table = tok[6:]
        elif tok.startswith("priority="):
            prio = tok[9:]
        else:
            rest.append(tok)
    head = f"table={table},priority={prio}"
    actions = _TUN_LOAD.sub(_tun_action, actions.strip())
    return head + "".join("," + t for t in sorted(rest)) + " actions=" + actions


def flow_key(flow: str) -> str:
    """The match part: what identifies a flow in OpenFlow (strict match)."""
    return flow.partition(" actions=")[0]


def _f(table: int, prio: int, match: str, actions: str) -> str:
    return normalize(f"table={table},priority={prio}{',' + match if match else ''} actions={actions}")


def render_flows(cfg: AgentConfig, nets: dict[str, L2Network], lvids: dict[str, int],
                 phys_bridges: set[str]) -> dict[str, frozenset[str]]:
    """Every flow we want, per bridge, for the active valid networks ``nets``."""
    out: dict[str, set[str]] = {cfg.integration_bridge: {_f(0, 0, "", "NORMAL")}}
    for br in phys_bridges:
        out[cfg.integration_bridge].add(_f(0, 2, f"in_port={int_patch(br)}", "drop"))
        out[br] = {_f(0, 2, f"in_port={phy_patch(br)}", "drop")}
    if cfg.tunnel_ip:
        out[cfg.tunnel_bridge] = _tun_base(cfg, nets)
    for net_id in sorted(nets):
        for br, flow in network_flows(cfg, nets[net_id], lvids[net_id], phys_bridges):
            out.setdefault(br, set()).add(flow)
    return {br: frozenset(f) for br, f in out.items()}


def _tun_base(cfg: AgentConfig, nets: dict[str, L2Network]) -> set[str]:
    flows = {_f(0, 1, f"in_port={PATCH_INT}", "resubmit(,2)"), _f(0, 0, "", "drop"),
             _f(2, 0, "", "drop")}
    flows |= {_f(t, 0, "", "drop") for t in TUN_TABLE.values()}
    for net in nets.values():
        if is_tunnel(net):
            for peer in tunnel_peers(net, cfg):
                port = tunnel_port_name(net.network_type, peer)
                flows.add(_f(0, 1, f"in_port={port}", f"resubmit(,{TUN_TABLE[net.network_type]})"))
    return flows


def network_flows(cfg: AgentConfig, net: L2Network, lvid: int,
                  phys_bridges: set[str]) -> list[tuple[str, str]]:
    """(bridge, flow) pairs one network needs on this host: its 'flows in place'."""
    seg = net.segmentation_id or 0
    if is_tunnel(net):
        tun = cfg.tunnel_bridge
        flows = [(tun, _f(TUN_TABLE[net.network_type], 1, f"tun_id={seg:#x}",
                          f"mod_vlan_vid:{lvid},output:{PATCH_INT}"))]
        outs = [tunnel_port_name(net.network_type, p) for p in tunnel_peers(net, cfg)]
        if outs:
            flows.append((tun, _f(2, 1, f"dl_vlan={lvid}", f"strip_vlan,set_tunnel:{seg:#x},"
                                  + ",".join(f"output:{o}" for o in sorted(outs)))))
        return flows
    br = cfg.bridge_mappings.get(net.physical_network or "")
    if br not in phys_bridges:
        return []
    if net.network_type == "vlan":
        return [(cfg.integration_bridge, _f(0, 3, f"in_port={int_patch(br)},dl_vlan={seg}",
                                            f"mod_vlan_vid:{lvid},NORMAL")),
                (br, _f(0, 4, f"in_port={phy_patch(br)},dl_vlan={lvid}", f"mod_vlan_vid:{seg},NORMAL"))]
    if net.network_type == "flat":
        return [(cfg.integration_bridge, _f(0, 3, f"in_port={int_patch(br)},vlan_tci=0x0000/0x1fff",
                                            f"mod_vlan_vid:{lvid},NORMAL")),
                (br, _f(0, 4, f"in_port={phy_patch(br)},dl_vlan={lvid}", "strip_vlan,NORMAL"))]
    return []
