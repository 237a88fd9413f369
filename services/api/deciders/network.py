"""Deciders for networks: create (with a segment), update, delete, tags."""

from __future__ import annotations

import random

from netledger.errors import BadRequest, Conflict
from netledger.libs.events.claims import SegmentClaimed, SegmentReleased
from netledger.libs.events.network import NetworkCreated, NetworkDeleted, NetworkUpdated, Segment
from netledger.libs.events.subjects import Subjects

from ..context import RequestContext
from . import Plan, Publication
from .segments import SegmentConfig, choose_segment

UPDATABLE = {
    "name": "name", "description": "description", "admin_state_up": "admin_state_up",
    "shared": "shared", "mtu": "mtu", "port_security_enabled": "port_security_enabled",
    "router:external": "router_external",
}


def decide_create(ctx: RequestContext, req: dict, *, network_id: str, subjects: Subjects,
                  segcfg: SegmentConfig, held_segments, rng: random.Random) -> Plan:
    seg, seg_claim_seq = choose_segment(req, segcfg, held_segments, rng)
    project = _project(ctx, req)
    mtu = req.get("mtu") or segcfg.mtu_for(seg.network_type)
    if mtu > segcfg.mtu_for(seg.network_type):
        raise BadRequest(f"Requested MTU is too big, maximum is {segcfg.mtu_for(seg.network_type)}",
                         type="InvalidInput")
    ev = NetworkCreated(
        network_id=network_id, project_id=project, name=req.get("name", ""),
        description=req.get("description", ""), admin_state_up=req.get("admin_state_up", True),
        shared=req.get("shared", False), mtu=mtu,
        port_security_enabled=req.get("port_security_enabled", True),
        router_external=req.get("router:external", False), segments=(seg,), tags=tuple(req.get("tags") or ()),
    )
    claims = ()
    if seg.segmentation_id is not None:
        claims = (Publication(
            subject=subjects.claim_segment(seg.network_type, seg.physical_network or "", seg.segmentation_id),
            kind="claim", aggregate_id=network_id, step="claim-seg",
            event=SegmentClaimed(network_type=seg.network_type, physical_network=seg.physical_network,
                                 segmentation_id=seg.segmentation_id, owner=network_id),
            expect_seq=seg_claim_seq, chosen=not req.get("provider:segmentation_id")),)
    fact = Publication(subject=subjects.network(network_id), kind="network", aggregate_id=network_id,
                       event=ev, step="create", expect_seq=0)
    return Plan(claims=claims, facts=(fact,), resource_id=network_id)


def _project(ctx: RequestContext, req: dict) -> str:
    project = req.get("project_id") or req.get("tenant_id") or ctx.project_id
    if req.get("project_id") and req.get("tenant_id") and req["project_id"] != req["tenant_id"]:
        raise BadRequest("'project_id' and 'tenant_id' do not match")
    if project != ctx.project_id and not ctx.is_admin:
        raise BadRequest("Specifying 'project_id' or 'tenant_id' other than the authenticated project "
                         "in request requires admin privileges")
    return project


def decide_update(ctx: RequestContext, current: dict, seq: int, changes: dict, *, subjects: Subjects) -> Plan:
    fields = {UPDATABLE[k]: v for k, v in changes.items() if k in UPDATABLE and current.get(k) != v}
    if not fields:
        return Plan(resource_id=current["id"])
    ev = NetworkUpdated(network_id=current["id"], **fields)
    return Plan(facts=(Publication(subject=subjects.network(current["id"]), kind="network",
                                   aggregate_id=current["id"], event=ev, step="update", expect_seq=seq),),
                resource_id=current["id"])


def decide_delete(ctx: RequestContext, current: dict, *, mac_head: int, macs_held: int,
                  seg_claims: list[tuple[Segment, int]], subjects: Subjects) -> Plan:
    """A network with ports cannot go; the expectation on its MAC claims makes a port
    created concurrently either land first (then we see it and refuse) or fail."""
    net_id = current["id"]
    if macs_held:
        raise Conflict(f"Unable to complete operation on network {net_id}. There are one or more "
                       "ports still in use on the network.", type="NetworkInUse")
    fact = Publication(subject=subjects.network(net_id), kind="network", aggregate_id=net_id,
                       event=NetworkDeleted(network_id=net_id), step="delete",
                       expect_seq=mac_head, expect_subject=subjects.claims_mac_of_network(net_id))
    releases = tuple(
        Publication(subject=subjects.claim_segment(s.network_type, s.physical_network or "", s.segmentation_id),
                    kind="claim", aggregate_id=net_id, step=f"release-seg-{i}",
                    event=SegmentReleased(network_type=s.network_type, physical_network=s.physical_network,
                                          segmentation_id=s.segmentation_id, owner=net_id),
                    expect_seq=claim_seq)
        for i, (s, claim_seq) in enumerate(seg_claims))
    return Plan(facts=(fact,), releases=releases, resource_id=net_id)
