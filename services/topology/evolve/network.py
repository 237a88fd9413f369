"""Fold of network and subnet facts into the ``networks`` and ``subnets`` tables."""

from __future__ import annotations

import msgspec

from netledger.libs.events.envelope import Envelope
from netledger.libs.events.network import NetworkCreated, NetworkDeleted, NetworkUpdated, TagsChanged
from netledger.libs.events.subnet import SubnetCreated, SubnetDeleted, SubnetUpdated

from . import Delete, Put, Reader, Write, apply_changes, bump, dumps, loads

NETWORK_FIELDS = {
    "name": "name", "description": "description", "admin_state_up": "admin_state_up",
    "shared": "shared", "mtu": "mtu", "port_security_enabled": "port_security_enabled",
    "router_external": "router:external",
}
SUBNET_FIELDS = {
    "name": "name", "description": "description", "gateway_ip": "gateway_ip",
    "allocation_pools": "allocation_pools", "dns_nameservers": "dns_nameservers",
    "host_routes": "host_routes", "enable_dhcp": "enable_dhcp",
}


def network_body(ev: NetworkCreated, env: Envelope) -> dict:
    seg = ev.segments[0] if ev.segments else None
    return {
        "id": ev.network_id, "name": ev.name, "description": ev.description,
        "tenant_id": ev.project_id, "project_id": ev.project_id,
        "admin_state_up": ev.admin_state_up, "status": "ACTIVE", "shared": ev.shared,
        "mtu": ev.mtu, "port_security_enabled": ev.port_security_enabled,
        "router:external": ev.router_external,
        "provider:network_type": seg.network_type if seg else None,
        "provider:physical_network": seg.physical_network if seg else None,
        "provider:segmentation_id": seg.segmentation_id if seg else None,
        "availability_zone_hints": [], "availability_zones": [],
        "ipv4_address_scope": None, "ipv6_address_scope": None, "l2_adjacency": True,
        "tags": sorted(ev.tags), "created_at": env.time, "updated_at": env.time,
        "revision_number": 1,
    }


def network_row(body: dict, *, seq: int, tree_seq: int) -> dict:
    return {"id": body["id"], "project_id": body["project_id"], "body": dumps(body),
            "seq": seq, "tree_seq": tree_seq}


def evolve_network(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    if isinstance(ev, NetworkCreated):
        return [Put(table="networks", row=network_row(network_body(ev, env), seq=seq, tree_seq=seq))]
    cur = read("networks", env.aggregate_id)
    if cur is None:
        return []
    body = loads(cur["body"])
    if isinstance(ev, NetworkUpdated):
        body = apply_changes(body, ev, NETWORK_FIELDS, time=env.time)
    elif isinstance(ev, TagsChanged):
        body = bump({**body, "tags": sorted(ev.tags)}, env.time)
    elif isinstance(ev, NetworkDeleted):
        # Subnets go with their network; their claims are already released.
        return [Delete(table="networks", key={"id": ev.network_id}),
                Delete(table="subnets", key={"network_id": ev.network_id})]
    return [Put(table="networks", row=network_row(body, seq=seq, tree_seq=seq))]


def subnet_body(ev: SubnetCreated, env: Envelope) -> dict:
    return {
        "id": ev.subnet_id, "name": ev.name, "description": ev.description,
        "network_id": ev.network_id, "tenant_id": ev.project_id, "project_id": ev.project_id,
        "ip_version": ev.ip_version, "cidr": ev.cidr, "gateway_ip": ev.gateway_ip,
        "allocation_pools": msgspec.to_builtins(ev.allocation_pools),
        "dns_nameservers": list(ev.dns_nameservers),
        "host_routes": msgspec.to_builtins(ev.host_routes),
        "enable_dhcp": ev.enable_dhcp, "ipv6_ra_mode": ev.ipv6_ra_mode,
        "ipv6_address_mode": ev.ipv6_address_mode, "subnetpool_id": None,
        "service_types": [], "tags": sorted(ev.tags),
        "created_at": env.time, "updated_at": env.time, "revision_number": 1,
    }


def subnet_row(body: dict, seq: int, created_seq: int) -> dict:
    """``created_seq`` orders a network's subnets exactly (timestamps have 1 s resolution)."""
    return {"id": body["id"], "project_id": body["project_id"], "network_id": body["network_id"],
            "cidr": body["cidr"], "body": dumps(body), "seq": seq, "created_seq": created_seq}


def evolve_subnet(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    cur = read("subnets", env.aggregate_id)
    network_id = getattr(ev, "network_id", None) or (cur or {}).get("network_id", "")
    net = read("networks", network_id)
    # Every message under the network's subject tree moves its tree sequence, which
    # must equal JetStream's last sequence on that wildcard (port creates check it).
    touch = [Put(table="networks", row={**net, "tree_seq": seq})] if net else []
    if isinstance(ev, SubnetCreated):
        return [Put(table="subnets", row=subnet_row(subnet_body(ev, env), seq, seq)), *touch]
    if cur is None:
        return touch
    if isinstance(ev, SubnetDeleted):
        return [Delete(table="subnets", key={"id": ev.subnet_id}), *touch]
    body = loads(cur["body"])
    if isinstance(ev, SubnetUpdated):
        body = apply_changes(body, ev, SUBNET_FIELDS, time=env.time)
    elif isinstance(ev, TagsChanged):
        body = bump({**body, "tags": sorted(ev.tags)}, env.time)
    return [Put(table="subnets", row=subnet_row(body, seq, cur.get("created_seq") or 0)), *touch]
