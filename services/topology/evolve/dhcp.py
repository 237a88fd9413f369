"""Fold of DHCP scheduling facts into ``dhcp_bindings`` (one row per served network).

``id`` is the network id (the aggregate of ``<prefix>.evt.dhcp.<network_id>``) and
``seq`` the last sequence on that subject: what the scheduler expects when it
publishes the next decision for the network.
"""

from __future__ import annotations

from netledger.libs.events.dhcp import DhcpNetworkScheduled, DhcpNetworkUnscheduled
from netledger.libs.events.envelope import Envelope

from . import Put, Reader, Write


def evolve_dhcp(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    if isinstance(ev, DhcpNetworkScheduled):
        return [Put(table="dhcp_bindings", row={
            "id": ev.network_id, "host": ev.host, "agent_id": ev.agent_id, "port_id": ev.port_id,
            "time": env.time, "seq": seq})]
    if isinstance(ev, DhcpNetworkUnscheduled):
        # The row stays with an empty host so its seq keeps the subject's last sequence
        # (the next Scheduled expects it); "scheduled" means host != ''.
        return [Put(table="dhcp_bindings", row={
            "id": ev.network_id, "host": "", "agent_id": "", "port_id": "", "time": env.time, "seq": seq})]
    return []


FOLDS = {"dhcp": evolve_dhcp}
SCHEMA = {
    "dhcp_bindings": ({"id": str, "host": str, "agent_id": str, "port_id": str, "time": str, "seq": int}, ["id"]),
}
INDEXES = {"dhcp_bindings": [["host"]]}
