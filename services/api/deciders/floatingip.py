"""Deciders for floating IPs (pure): create, associate/disassociate, delete.

The address is a real port on the external network (device_owner network:floatingip),
decided by the port decider and published with the floating IP fact in one atomic
batch. The serving router is chosen here, at association time, like Neutron's
_get_router_for_floatingip: a router with a gateway on the floating network and an
interface on the subnet of the fixed address.
"""

from __future__ import annotations

import ipaddress

from netledger.errors import BadRequest, Conflict, NotFound
from netledger.libs.events.floatingip import (
    FloatingIpAssociated, FloatingIpCreated, FloatingIpDeleted, FloatingIpDisassociated, FloatingIpUpdated,
)
from netledger.libs.events.subjects import Subjects

from ..context import RequestContext
from . import Plan, Publication
from .network import _project
from .router import merge


def bad_fip(msg: str) -> BadRequest:
    return BadRequest(f"Bad floatingip request: {msg}.", type="BadRequest")


def fip_pub(subjects: Subjects, fip_id: str, event, step: str, seq: int | None) -> Publication:
    return Publication(subject=subjects.aggregate("floatingip", fip_id), kind="floatingip", aggregate_id=fip_id,
                       event=event, step=step, expect_seq=seq)


class Association:
    """A resolved (port, fixed address, router) triple, or none."""

    def __init__(self, port_id: str = "", fixed_ip: str = "", router_id: str = "") -> None:
        self.port_id, self.fixed_ip, self.router_id = port_id, fixed_ip, router_id


def fixed_ip_of(port: dict, wanted: str | None) -> dict:
    """The port's IPv4 fixed IP to translate to (400 when ambiguous or absent)."""
    v4 = [f for f in port.get("fixed_ips", []) if ipaddress.ip_address(f["ip_address"]).version == 4]
    if wanted:
        for f in v4:
            if f["ip_address"] == wanted:
                return f
        raise bad_fip(f"Port {port['id']} does not have fixed ip {wanted}")
    if not v4:
        raise bad_fip(f"Port {port['id']} does not have any fixed IPv4 address")
    if len(v4) > 1:
        raise bad_fip(f"Port {port['id']} has multiple fixed IPv4 addresses.  Must provide a specific IPv4 "
                      "address when assigning a floating IP")
    return v4[0]


def resolve(port: dict, wanted_ip: str | None, *, floating_network_id: str, fip_id: str, fip_address: str,
            routers: list[dict], taken: list[dict]) -> Association:
    """``routers``: candidate routers as {"id", "gw_network_id", "subnet_ids"}; ``taken``:
    other floating IPs of the floating network associated with this port."""
    if str(port.get("device_owner", "")).startswith("network:"):
        raise bad_fip(f"Port {port['id']} has owner {port['device_owner']} and therefore cannot be "
                      "associated with a floating IP")
    fixed = fixed_ip_of(port, wanted_ip)
    for other in taken:
        if other["id"] != fip_id and other.get("fixed_ip_address") == fixed["ip_address"]:
            raise Conflict(f"Cannot associate floating IP {fip_address} ({fip_id}) with port {port['id']} using "
                           f"fixed IP {fixed['ip_address']}, as that fixed IP already has a floating IP on external "
                           f"network {floating_network_id}.", type="FloatingIPPortAlreadyAssociated")
    for r in sorted(routers, key=lambda x: x["id"]):
        if r["gw_network_id"] == floating_network_id and fixed["subnet_id"] in r["subnet_ids"]:
            return Association(port["id"], fixed["ip_address"], r["id"])
    raise NotFound(f"External network {floating_network_id} is not reachable from subnet {fixed['subnet_id']}.  "
                   f"Therefore, cannot associate Port {port['id']} with a Floating IP.",
                   type="ExternalGatewayForFloatingIPNotFound")


def decide_create(ctx: RequestContext, req: dict, *, fip_id: str, port_plan: Plan, assoc: Association,
                  subjects: Subjects) -> Plan:
    port_ev = port_plan.facts[0].event
    fixed = port_ev.fixed_ips[0]
    ev = FloatingIpCreated(floatingip_id=fip_id, project_id=_project(ctx, req),
                           floating_network_id=req["floating_network_id"], floating_subnet_id=fixed.subnet_id,
                           floating_ip_address=fixed.ip_address, floating_port_id=port_ev.port_id,
                           description=req.get("description", ""), port_id=assoc.port_id,
                           fixed_ip_address=assoc.fixed_ip, router_id=assoc.router_id,
                           tags=tuple(req.get("tags") or ()))
    return merge(port_plan, Plan(facts=(fip_pub(subjects, fip_id, ev, "create", 0),)), resource_id=fip_id)


def decide_update(cur: dict, seq: int, changes: dict, *, assoc: Association | None, subjects: Subjects) -> Plan:
    """``assoc`` None: the association is not touched; empty port_id: disassociate."""
    fid, facts = cur["id"], []
    if "description" in changes and changes["description"] != cur.get("description"):
        facts.append(fip_pub(subjects, fid, FloatingIpUpdated(floatingip_id=fid, description=changes["description"]),
                             "update", seq))
    if assoc is not None:
        same = (assoc.port_id, assoc.fixed_ip, assoc.router_id) == (
            cur.get("port_id") or "", cur.get("fixed_ip_address") or "", cur.get("router_id") or "")
        if not same:
            ev = (FloatingIpAssociated(floatingip_id=fid, port_id=assoc.port_id, fixed_ip_address=assoc.fixed_ip,
                                       router_id=assoc.router_id) if assoc.port_id
                  else FloatingIpDisassociated(floatingip_id=fid))
            facts.append(fip_pub(subjects, fid, ev, "assoc", None if facts else seq))
    return Plan(facts=tuple(facts), resource_id=fid)


def decide_delete(cur: dict, seq: int, *, port_delete: Plan | None, subjects: Subjects) -> Plan:
    fid = cur["id"]
    ev = FloatingIpDeleted(floatingip_id=fid, floating_port_id=cur.get("floating_port_id", ""))
    fact = Plan(facts=(fip_pub(subjects, fid, ev, "delete", seq),))
    return merge(fact, port_delete, resource_id=fid) if port_delete else merge(fact, resource_id=fid)
