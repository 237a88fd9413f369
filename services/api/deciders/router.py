"""Deciders for routers (pure): create, update (gateway, routes), interfaces, delete.

A router's ports are real ports decided by the port decider (claims included); the
handler hands those sub-plans in and we merge them with the router fact into one
plan whose facts are published as one atomic batch (see http/router.py), so the
router and its ports change together or not at all. Every router fact expects the
router subject's last sequence: concurrent interface adds are serialised per router,
which is what makes the duplicate/overlap checks race-free.
"""

from __future__ import annotations

import ipaddress

import msgspec

from netledger.errors import BadRequest, Conflict, NotFound
from netledger.libs.events.router import (
    ExternalFixedIp, Route, RouterCreated, RouterDeleted, RouterGatewayCleared, RouterGatewaySet,
    RouterInterfaceAdded, RouterInterfaceRemoved, RouterUpdated,
)
from netledger.libs.events.subjects import Subjects

from ..context import RequestContext
from . import Plan, Publication
from .network import _project

UPDATABLE = {"name": "name", "description": "description", "admin_state_up": "admin_state_up"}
OWNER_INTERFACE = "network:router_interface"
OWNER_GATEWAY = "network:router_gateway"
OWNER_FIP = "network:floatingip"


def bad_router(msg: str) -> BadRequest:
    """neutron-lib's BadRequest(resource='router', msg=...)."""
    return BadRequest(f"Bad router request: {msg}.", type="BadRequest")


def merge(*plans: Plan, resource_id: str = "") -> Plan:
    return Plan(claims=tuple(c for p in plans for c in p.claims), facts=tuple(f for p in plans for f in p.facts),
                releases=tuple(r for p in plans for r in p.releases), resource_id=resource_id)


def router_pub(subjects: Subjects, router_id: str, event, step: str, seq: int) -> Publication:
    return Publication(subject=subjects.aggregate("router", router_id), kind="router", aggregate_id=router_id,
                       event=event, step=step, expect_seq=seq)


def check_external(network: dict, resource: str = "router") -> None:
    if not network.get("router:external"):
        raise BadRequest(f"Bad {resource} request: Network {network['id']} is not a valid external network.",
                         type="BadRequest")


def gateway_fact(router_id: str, gw: dict, port_event, subjects: Subjects, seq: int, step: str) -> Publication:
    """RouterGatewaySet naming the gateway port and the addresses it got."""
    fixed = tuple(ExternalFixedIp(subnet_id=f.subnet_id, ip_address=f.ip_address) for f in port_event.fixed_ips)
    ev = RouterGatewaySet(router_id=router_id, network_id=gw["network_id"], port_id=port_event.port_id,
                          enable_snat=gw.get("enable_snat", True), external_fixed_ips=fixed)
    return router_pub(subjects, router_id, ev, step, seq)


def decide_create(ctx: RequestContext, req: dict, *, router_id: str, subjects: Subjects,
                  gw_port: Plan | None = None) -> Plan:
    """RouterCreated (+ the gateway port and RouterGatewaySet when a gateway is asked)."""
    routes = tuple(req.get("routes") or ())
    if routes:
        raise BadRequest("Attribute 'routes' not allowed in POST")
    ev = RouterCreated(router_id=router_id, project_id=_project(ctx, req), name=req.get("name", ""),
                       description=req.get("description", ""), admin_state_up=req.get("admin_state_up", True),
                       tags=tuple(req.get("tags") or ()))
    facts = [router_pub(subjects, router_id, ev, "create", 0)]
    if gw_port is None:
        return Plan(facts=tuple(facts), resource_id=router_id)
    # The router fact comes after its creation in the same subject: the batch's second
    # message on the subject carries no expectation (the first guards it).
    gw = gateway_fact(router_id, req["external_gateway_info"], gw_port.facts[0].event, subjects, None, "gw-set")
    return merge(gw_port, Plan(facts=(*facts, gw)), resource_id=router_id)


def validate_routes(routes: list, *, cidrs: list[str], own_ips: set[str], subnet_ids: list[str] | None = None
                    ) -> tuple[Route, ...]:
    """extraroute: each nexthop must sit on a subnet attached to the router and must not
    be one of the router's own addresses (InvalidRoutes, 400)."""
    out: list[Route] = []
    nets = [ipaddress.ip_network(c) for c in cidrs]
    for r in routes:
        if not isinstance(r, dict) or set(r) != {"destination", "nexthop"}:
            raise _invalid_routes(routes, "the routes must be objects with 'destination' and 'nexthop'")
        try:
            dest = ipaddress.ip_network(str(r["destination"]), strict=False)
            hop = ipaddress.ip_address(str(r["nexthop"]))
        except ValueError:
            raise _invalid_routes(routes, "the destination or nexthop is invalid") from None
        if not any(hop in n for n in nets if n.version == hop.version):
            raise _invalid_routes(routes, "the nexthop is not connected with router")
        if str(hop) in own_ips:
            raise _invalid_routes(routes, "the nexthop is used by router")
        route = Route(destination=str(dest), nexthop=str(hop))
        if route not in out:
            out.append(route)
    return tuple(sorted(out, key=lambda x: (x.destination, x.nexthop)))


def _invalid_routes(routes, reason: str) -> BadRequest:
    return BadRequest(f"Invalid format for routes: {routes}, {reason}.", type="InvalidRoutes")


def decide_update(ctx: RequestContext, cur: dict, seq: int, changes: dict, *, subjects: Subjects,
                  routes: tuple[Route, ...] | None = None, gateway: Plan | None = None) -> Plan:
    """Plain fields and routes in one RouterUpdated; the gateway part (set, replace,
    clear) is decided by ``decide_gateway`` and merged here."""
    rid = cur["id"]
    fields = {UPDATABLE[k]: v for k, v in changes.items() if k in UPDATABLE and cur.get(k) != v}
    if routes is not None and [msgspec.to_builtins(r) for r in routes] != cur.get("routes", []):
        fields["routes"] = routes
    facts = []
    if fields:
        facts.append(router_pub(subjects, rid, RouterUpdated(router_id=rid, **fields), "update", seq))
    if gateway is not None and gateway.facts:
        if facts:  # second message on the router subject in the batch: first one guards
            gateway = _drop_router_expectations(gateway, subjects.aggregate("router", rid))
        return merge(Plan(facts=tuple(facts)), gateway, resource_id=rid)
    return Plan(facts=tuple(facts), resource_id=rid)


def _drop_router_expectations(plan: Plan, subject: str) -> Plan:
    facts = tuple(msgspec.structs.replace(f, expect_seq=None) if f.subject == subject else f for f in plan.facts)
    return msgspec.structs.replace(plan, facts=facts)


def decide_gateway(cur: dict, seq: int, wanted: dict | None, *, subjects: Subjects, gw_port: dict | None,
                   new_port: Plan | None, old_port_delete: Plan | None, fips_on_router: int) -> Plan:
    """Set, replace, change enable_snat, or clear the gateway. ``new_port`` is the
    decided gateway port when one is needed; ``old_port_delete`` deletes the old one."""
    rid, current = cur["id"], cur.get("external_gateway_info")
    same_net = bool(current and wanted and wanted["network_id"] == current["network_id"])
    if current and not same_net and fips_on_router:
        raise Conflict(f"Gateway cannot be updated for router {rid}, since a gateway to external network "
                       f"{current['network_id']} is required by one or more floating IPs.",
                       type="RouterExternalGatewayInUseByFloatingIp")
    if same_net:
        snat = wanted.get("enable_snat", current.get("enable_snat", True))
        if snat == current.get("enable_snat", True) or gw_port is None:
            return Plan(resource_id=rid)
        fixed = tuple(ExternalFixedIp(**f) for f in current.get("external_fixed_ips", []))
        ev = RouterGatewaySet(router_id=rid, network_id=current["network_id"], port_id=gw_port["id"],
                              enable_snat=snat, external_fixed_ips=fixed)
        return Plan(facts=(router_pub(subjects, rid, ev, "gw-snat", seq),), resource_id=rid)
    plans: list[Plan] = []
    step_seq: int | None = seq
    if current and gw_port is not None:
        clear = router_pub(subjects, rid, RouterGatewayCleared(router_id=rid, port_id=gw_port["id"]), "gw-clear", seq)
        plans.append(Plan(facts=(clear,)))
        step_seq = None
        if old_port_delete is not None:
            plans.append(old_port_delete)
    if wanted and new_port is not None:
        plans.append(new_port)
        plans.append(Plan(facts=(gateway_fact(rid, wanted, new_port.facts[0].event, subjects, step_seq, "gw-set"),)))
    return merge(*plans, resource_id=rid)


def check_new_interface(router: dict, subnet: dict, interfaces: list[dict]) -> None:
    """Neutron's _check_for_dup_router_subnets: one port per subnet, no overlaps, and
    the subnet must have a gateway address (400 BadRequest)."""
    new = ipaddress.ip_network(subnet["cidr"])
    for itf in interfaces:
        if itf["subnet_id"] == subnet["id"]:
            raise bad_router(f"Router already has a port on subnet {subnet['id']}")
        old = ipaddress.ip_network(itf["cidr"])
        if old.version == new.version and (old.overlaps(new)):
            raise bad_router(f"Cidr {subnet['cidr']} of subnet {subnet['id']} overlaps with cidr {itf['cidr']} "
                             f"of subnet {itf['subnet_id']}")


def decide_add_interface(router: dict, seq: int, *, subnet: dict, interfaces: list[dict], port_id: str,
                         port_plan: Plan, subjects: Subjects) -> Plan:
    """The interface port (a new one, or the client's port updated) and the fact."""
    check_new_interface(router, subnet, interfaces)
    ev = RouterInterfaceAdded(router_id=router["id"], port_id=port_id, subnet_id=subnet["id"],
                              network_id=subnet["network_id"])
    return merge(port_plan, Plan(facts=(router_pub(subjects, router["id"], ev, f"add-if-{port_id}", seq),)),
                 resource_id=router["id"])


def find_interface(router_id: str, interfaces: list[dict], *, port_id: str | None, subnet_id: str | None) -> dict:
    for itf in interfaces:
        if port_id and itf["port_id"] == port_id and (not subnet_id or itf["subnet_id"] == subnet_id):
            return itf
        if not port_id and subnet_id and itf["subnet_id"] == subnet_id:
            return itf
    if port_id:
        raise NotFound(f"Router {router_id} does not have an interface with id {port_id}",
                       type="RouterInterfaceNotFound")
    raise NotFound(f"Router {router_id} has no interface on subnet {subnet_id}",
                   type="RouterInterfaceNotFoundForSubnet")


def decide_remove_interface(router: dict, seq: int, *, itf: dict, port_delete: Plan, fips_in_subnet: int,
                            subjects: Subjects) -> Plan:
    rid = router["id"]
    if fips_in_subnet:
        raise Conflict(f"Router interface for subnet {itf['subnet_id']} on router {rid} cannot be deleted, as it "
                       "is required by one or more floating IPs.", type="RouterInterfaceInUseByFloatingIP")
    net = ipaddress.ip_network(itf["cidr"])
    if any(ipaddress.ip_address(r["nexthop"]) in net for r in router.get("routes", [])):
        raise Conflict(f"Router interface for subnet {itf['subnet_id']} on router {rid} cannot be deleted, as it "
                       "is required by one or more routes.", type="RouterInterfaceInUseByRoute")
    ev = RouterInterfaceRemoved(router_id=rid, port_id=itf["port_id"], subnet_id=itf["subnet_id"])
    return merge(Plan(facts=(router_pub(subjects, rid, ev, f"rm-if-{itf['port_id']}", seq),)), port_delete,
                 resource_id=rid)


def decide_delete(router: dict, seq: int, *, interfaces: list[dict], gw_delete: Plan | None, fips_on_router: int,
                  subjects: Subjects) -> Plan:
    rid = router["id"]
    if interfaces:
        raise Conflict(f"Router {rid} still has ports", type="RouterInUse")
    gw = router.get("external_gateway_info")
    if gw and fips_on_router:
        raise Conflict(f"Gateway cannot be updated for router {rid}, since a gateway to external network "
                       f"{gw['network_id']} is required by one or more floating IPs.",
                       type="RouterExternalGatewayInUseByFloatingIp")
    fact = Plan(facts=(router_pub(subjects, rid, RouterDeleted(router_id=rid), "delete", seq),))
    return merge(fact, gw_delete, resource_id=rid) if gw_delete else merge(fact, resource_id=rid)
