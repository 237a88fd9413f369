"""Fold of port facts, claims and worker status into rows."""

from __future__ import annotations

import msgspec

from netledger.libs.events.claims import IpClaimed, IpReleased, MacClaimed, MacReleased, SegmentClaimed, SegmentReleased
from netledger.libs.events.envelope import Envelope
from netledger.libs.events.network import TagsChanged
from netledger.libs.events.port import PortCreated, PortDeleted, PortUpdated
from netledger.libs.events.status import AgentHeartbeat, PortStatusReported

from . import Delete, Put, Reader, Write, apply_changes, bump, dumps, loads

PORT_FIELDS = {
    "name": "name", "description": "description", "fixed_ips": "fixed_ips",
    "mac_address": "mac_address", "admin_state_up": "admin_state_up",
    "device_id": "device_id", "device_owner": "device_owner",
    "binding_host_id": "binding:host_id", "binding_profile": "binding:profile",
    "binding_vnic_type": "binding:vnic_type", "binding_vif_type": "binding:vif_type",
    "binding_vif_details": "binding:vif_details",
    "port_security_enabled": "port_security_enabled", "security_groups": "security_groups",
    "allowed_address_pairs": "allowed_address_pairs", "extra_dhcp_opts": "extra_dhcp_opts",
}


def port_body(ev: PortCreated, env: Envelope) -> dict:
    return {
        "id": ev.port_id, "name": ev.name, "description": ev.description,
        "network_id": ev.network_id, "tenant_id": ev.project_id, "project_id": ev.project_id,
        "mac_address": ev.mac_address, "admin_state_up": ev.admin_state_up,
        "fixed_ips": msgspec.to_builtins(ev.fixed_ips),
        "device_id": ev.device_id, "device_owner": ev.device_owner,
        "binding:host_id": ev.binding_host_id, "binding:profile": ev.binding_profile,
        "binding:vnic_type": ev.binding_vnic_type, "binding:vif_type": ev.binding_vif_type,
        "binding:vif_details": ev.binding_vif_details,
        "port_security_enabled": ev.port_security_enabled,
        "security_groups": list(ev.security_groups),
        "allowed_address_pairs": msgspec.to_builtins(ev.allowed_address_pairs),
        "extra_dhcp_opts": msgspec.to_builtins(ev.extra_dhcp_opts),
        "tags": sorted(ev.tags), "created_at": env.time, "updated_at": env.time,
        "revision_number": 1,
    }


def port_row(body: dict, seq: int) -> dict:
    return {"id": body["id"], "project_id": body["project_id"], "network_id": body["network_id"],
            "device_id": body["device_id"], "host": body["binding:host_id"],
            "mac_address": body["mac_address"], "body": dumps(body), "seq": seq}


def evolve_port(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    if isinstance(ev, PortCreated):
        return [Put(table="ports", row=port_row(port_body(ev, env), seq))]
    cur = read("ports", env.aggregate_id)
    if cur is None:
        return []
    if isinstance(ev, PortDeleted):
        # port_status rows stay: they are a fold of the status stream alone, which
        # keeps replay identical whatever the interleaving of the two streams was.
        return [Delete(table="ports", key={"id": ev.port_id})]
    body = loads(cur["body"])
    if isinstance(ev, PortUpdated):
        body = apply_changes(body, ev, PORT_FIELDS, time=env.time)
    elif isinstance(ev, TagsChanged):
        body = bump({**body, "tags": sorted(ev.tags)}, env.time)
    return [Put(table="ports", row=port_row(body, seq))]


def evolve_claim(env: Envelope, seq: int, read: Reader) -> list[Write]:
    """A claim row per value: who holds it and the subject's last sequence."""
    ev = env.event
    common = {"seq": seq, "time": env.time}
    if isinstance(ev, (IpClaimed, IpReleased)):
        held = isinstance(ev, IpClaimed)
        return [Put(table="ip_claims", row={"subnet_id": ev.subnet_id, "ip_address": ev.ip_address,
                                            "owner": ev.owner if held else "", "held": int(held), **common})]
    if isinstance(ev, (MacClaimed, MacReleased)):
        held = isinstance(ev, MacClaimed)
        return [Put(table="mac_claims", row={"network_id": ev.network_id, "mac_address": ev.mac_address,
                                             "owner": ev.owner if held else "", "held": int(held), **common})]
    if isinstance(ev, (SegmentClaimed, SegmentReleased)):
        held = isinstance(ev, SegmentClaimed)
        return [Put(table="segment_claims", row={
            "network_type": ev.network_type, "physical_network": ev.physical_network or "",
            "segmentation_id": ev.segmentation_id, "owner": ev.owner if held else "",
            "held": int(held), **common})]
    return []


def evolve_status(env: Envelope, seq: int, read: Reader) -> list[Write]:
    """Worker reports. Kept in their own tables so their interleaving with API events
    (two streams) cannot change the rows a replay produces."""
    ev = env.event
    if isinstance(ev, PortStatusReported):
        return [Put(table="port_status", row={
            "port_id": ev.port_id, "block": ev.block, "host": ev.host, "status": ev.status,
            "revision_number": ev.revision_number, "time": env.time, "seq": seq})]
    if isinstance(ev, AgentHeartbeat):
        return [Put(table="agents", row={
            "id": ev.agent_id, "host": ev.host, "agent_type": ev.agent_type, "binary": ev.binary,
            "body": dumps(msgspec.to_builtins(ev)), "last_heartbeat": env.time, "seq": seq})]
    return []
