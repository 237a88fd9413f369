"""Bulk create (``{"ports": [...]}``): all-or-nothing, as Neutron promises.

Each item is decided like a single create (claims are won one by one and owned by the
item's id); the facts of all items are then published as one atomic batch, so either
every resource exists afterwards or none does. The write goes through the API's one
executor (writer.run_with_retries, atomic mode). Claims of a failed bulk are released
before the error is answered, so a refused bulk leaves no address or MAC held.
"""

from __future__ import annotations

import ipaddress

import msgspec
from aiohttp import web

from netledger.errors import BadRequest, Conflict

from ..attributes import validate_body
from .common import may, for_caller, hidden_fields, json_response, new_resource_id
from ..commands import network, port, subnet
from ..deciders import Plan
from ..deciders.claims import Ledger
from ..subnet_rules import _check_against_network as check_overlap
from .. import store_quota
from ..writer import Retry, run_with_retries

MAX_BULK = 500


def _planner(kind: str):
    return {"network": network.plan_create, "subnet": subnet.plan_create, "port": port.plan_create}[kind]


async def create_bulk(request: web.Request, kind: str, body: dict) -> web.Response:
    ctx, svc = request["ctx"], request.app["svc"]
    items = body.get(f"{kind}s")
    if not isinstance(items, list) or not items or len(body) != 1:
        raise BadRequest(f"Bulk request body must be {{'{kind}s': [ ... ]}} with at least one item")
    if len(items) > MAX_BULK:
        raise BadRequest(f"At most {MAX_BULK} {kind}s per bulk request")
    reqs = [validate_body(kind, {kind: item}, create=True, may=may(request)) for item in items]
    ids = [new_resource_id(ctx, kind, i) for i in range(len(reqs))]
    if all(svc.reader.row(f"{kind}s_v", i) is not None for i in ids):
        return _respond(request, kind, ids)
    if kind == "port":
        await port.ensure_default_group(svc, ctx, reqs)
    ledger = Ledger()
    async with store_quota.reserved_for(svc, ctx, kind, reqs, ids):
        await run_with_retries(lambda: _decide(svc, ctx, kind, reqs, ids, ledger.won), svc.writer, ctx,
                               ledger=ledger, atomic=True)
    return _respond(request, kind, ids)


def _decide(svc, ctx, kind: str, reqs: list[dict], ids: list[str], won) -> Plan:
    """Every item decided like a single create, merged into one plan whose facts land as
    one atomic batch (the executor's atomic mode)."""
    plan_create = _planner(kind)
    if kind == "port":
        plans = [plan_create(svc, ctx, req, rid, won) for req, rid in zip(reqs, ids)]
    else:
        plans = [plan_create(svc, ctx, req, rid) for req, rid in zip(reqs, ids)]
    _check_distinct(plans)
    if kind == "subnet":
        _check_no_overlap(plans)
    # Steps are unique per item only: qualify them by the item's position.
    facts = tuple(msgspec.structs.replace(pub, step=f"bulk-{i}-{pub.step}")
                  for i, plan in enumerate(plans) for pub in plan.facts)
    return Plan(claims=tuple(c for p in plans for c in p.claims), facts=facts,
                releases=tuple(r for p in plans for r in p.releases))


def _check_distinct(plans: list[Plan]) -> None:
    """Two items asking for the same address or MAC: Neutron answers 409 for the bulk."""
    seen: dict[str, str] = {}
    for plan in plans:
        for pub in plan.claims:
            if seen.setdefault(pub.subject, pub.aggregate_id) != pub.aggregate_id:
                if pub.chosen:  # our own random pick collided: pick again
                    raise Retry(0, pub)
                what = getattr(pub.event, "ip_address", None) or getattr(pub.event, "mac_address", "")
                raise Conflict(f"Address {what} is requested by two items of the bulk request",
                               type="IpAddressAlreadyAllocated" if hasattr(pub.event, "ip_address")
                               else "MacAddressInUse")


def _check_no_overlap(plans: list[Plan]) -> None:
    """Items of one bulk on the same network must not overlap each other either (each
    was decided against the network's existing subnets only)."""
    earlier: list[dict] = []
    for plan in plans:
        ev = plan.facts[0].event
        same_net = [s for s in earlier if s["network_id"] == ev.network_id]
        check_overlap(ipaddress.ip_network(ev.cidr), same_net, ev.network_id)
        earlier.append({"network_id": ev.network_id, "cidr": ev.cidr})


def _respond(request: web.Request, kind: str, ids: list[str]) -> web.Response:
    svc, hidden = request.app["svc"], hidden_fields(request, kind)
    bodies = [for_caller(svc.reader.get(kind, i, None)[0], hidden) for i in ids]
    return json_response({f"{kind}s": bodies}, status=201)
