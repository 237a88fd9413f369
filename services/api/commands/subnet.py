"""Subnet commands: the visible network and its subnets, then the pure decider."""

from __future__ import annotations

from netledger.errors import Forbidden

from ..deciders import subnet as decide
from .network_access import visible_network


def plan_create(svc, ctx, req, subnet_id):
    net, tree_seq = visible_network(svc, ctx, req["network_id"])
    if net["project_id"] != ctx.project_id and not ctx.is_admin:
        # Visible (shared) but not theirs: Neutron's policy answers 403, not 404.
        raise Forbidden("(rule:create_subnet) is disallowed by policy", type="PolicyNotAuthorized")
    return decide.decide_create(ctx, req, subnet_id=subnet_id, network=net, tree_seq=tree_seq,
                                network_subnets=svc.reader.subnets_of(net["id"]), subjects=svc.subjects)
