"""Deciders for subnets. Validation rules live in ``ipam`` (pure)."""

from __future__ import annotations

import msgspec

from netledger.errors import Conflict
from netledger.libs.events.subnet import HostRoute, Pool, SubnetCreated, SubnetDeleted, SubnetUpdated
from netledger.libs.events.subjects import Subjects

from .. import ipam
from ..context import RequestContext
from . import Plan, Publication
from .network import _project

UPDATABLE = ("name", "description", "gateway_ip", "allocation_pools", "dns_nameservers",
             "host_routes", "enable_dhcp")


def _typed(field: str, value):
    if field == "allocation_pools":
        return tuple(Pool(start=p["start"], end=p["end"]) for p in value)
    if field == "host_routes":
        return tuple(HostRoute(destination=r["destination"], nexthop=r["nexthop"]) for r in value)
    if field == "dns_nameservers":
        return tuple(value)
    return value


def decide_create(ctx: RequestContext, req: dict, *, subnet_id: str, network: dict, tree_seq: int,
                  network_subnets: list[dict], subjects: Subjects) -> Plan:
    """The expectation on the network's subject tree serialises subnet creates of one
    network, which is what makes the overlap check race-free."""
    norm = ipam.normalize_subnet(req, network_subnets=network_subnets)
    net_id = network["id"]
    ev = SubnetCreated(
        subnet_id=subnet_id, network_id=net_id, project_id=_project(ctx, req),
        name=req.get("name", ""), description=req.get("description", ""),
        cidr=norm["cidr"], ip_version=norm["ip_version"], gateway_ip=norm["gateway_ip"],
        allocation_pools=_typed("allocation_pools", norm["allocation_pools"]),
        dns_nameservers=tuple(norm["dns_nameservers"]),
        host_routes=_typed("host_routes", norm["host_routes"]),
        enable_dhcp=norm["enable_dhcp"], ipv6_ra_mode=norm.get("ipv6_ra_mode"),
        ipv6_address_mode=norm.get("ipv6_address_mode"), tags=tuple(req.get("tags") or ()),
    )
    fact = Publication(subject=subjects.subnet(net_id, subnet_id), kind="subnet", aggregate_id=subnet_id,
                       event=ev, step="create", expect_seq=tree_seq,
                       expect_subject=subjects.network_tree(net_id))
    return Plan(facts=(fact,), resource_id=subnet_id)


def decide_update(ctx: RequestContext, current: dict, seq: int, changes: dict, *, subjects: Subjects) -> Plan:
    merged = ipam.normalize_subnet_update(current, {k: v for k, v in changes.items() if k in UPDATABLE})
    merged.update({k: changes[k] for k in ("name", "description") if k in changes})
    fields = {}
    for f in UPDATABLE:
        if f not in merged:
            continue
        new = _typed(f, merged[f]) if merged[f] is not None else None
        old = _typed(f, current.get(f)) if current.get(f) is not None else None
        if msgspec.to_builtins(new) != msgspec.to_builtins(old):
            fields[f] = new
    if not fields:
        return Plan(resource_id=current["id"])
    ev = SubnetUpdated(subnet_id=current["id"], network_id=current["network_id"], **fields)
    fact = Publication(subject=subjects.subnet(current["network_id"], current["id"]), kind="subnet",
                       aggregate_id=current["id"], event=ev, step="update", expect_seq=seq)
    return Plan(facts=(fact,), resource_id=current["id"])


def decide_delete(ctx: RequestContext, current: dict, *, claims_head: int, held: int,
                  subjects: Subjects) -> Plan:
    sid = current["id"]
    if held:
        raise Conflict(f"Unable to complete operation on subnet {sid}: One or more ports have an IP "
                       "allocation from this subnet.", type="SubnetInUse")
    fact = Publication(subject=subjects.subnet(current["network_id"], sid), kind="subnet", aggregate_id=sid,
                       event=SubnetDeleted(subnet_id=sid, network_id=current["network_id"]), step="delete",
                       expect_seq=claims_head, expect_subject=subjects.claims_ip_of_subnet(sid))
    return Plan(facts=(fact,), resource_id=sid)
