"""Network commands: what a network decision needs, then the pure decider."""

from __future__ import annotations

from ..deciders import network as decide


def plan_create(svc, ctx, req, net_id):
    return decide.decide_create(ctx, req, network_id=net_id, subjects=svc.subjects, segcfg=svc.segcfg,
                                held_segments=svc.held_segments, rng=svc.rng)
