"""Which local ports get SG flows, from desired state x observed OVS (pure).

A port is filtered when its intent has port security, it is plugged on the
integration bridge with an ofport, admin up, and its network is wired here. Its
filter is resolved from the host's SG intents (``model.port_filter``); the flows come
from ``ovs_flows``. The L2 planner unions them into br-int's wanted flows, so SG
changes become plain flow adds/deletes (incremental, never a rebuild).
"""

from __future__ import annotations

from netledger.libs.events.intents import L2Network
from netledger.services.l2.desired import HostDesired
from netledger.services.l2.ovs.layout import is_tunnel
from netledger.services.l2.ovs.model import OvsObserved
from netledger.services.l2.sg.model import port_filter
from netledger.services.l2.sg.ovs_flows import SgPort, Trusted, render_sg_flows


def sg_flows(desired: HostDesired, obs: OvsObserved, bridge: str, nets: dict[str, L2Network],
             lvids: dict[str, int]) -> set[str]:
    filtered: list[SgPort] = []
    plain: list[tuple[str, str]] = []
    for iface_id, p in sorted(obs.port_by_iface_id().items()):
        intent = desired.ports.get(iface_id)
        if (p.bridge != bridge or intent is None or not intent.admin_state_up or p.ofport is None
                or p.ofport <= 0 or intent.network_id not in nets):
            continue
        f = port_filter(intent, desired.security_groups, desired.sg_members)
        if f is None:
            plain.append((p.name, intent.network_id))
        else:
            filtered.append(SgPort(filter=f, name=p.name, ofport=p.ofport, lvid=lvids[intent.network_id]))
    guarded = {p.lvid for p in filtered}
    trusted = [Trusted(name=n, lvid=lvids[net]) for n, net in plain if lvids[net] in guarded]
    tunnels = {lvids[n] for n, net in nets.items() if is_tunnel(net) and lvids[n] in guarded}
    return render_sg_flows(filtered, trusted, tunnels)
