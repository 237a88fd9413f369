"""Deciders for ports: addresses and MAC are claimed, then the fact is published.

Claims are owned by the port id, so a retried decision (after a lost race) reuses
what this port already holds (``won``: claims won on earlier attempts of the same
request) instead of claiming again, and releases what it no longer uses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence

import msgspec

from netledger.errors import BadRequest, Conflict, InvalidInput, NotFound
from netledger.libs.events.port import AddressPair, PortCreated, PortDeleted, PortUpdated
from netledger.libs.events.security_group import default_group_id
from netledger.libs.events.subjects import Subjects
from netledger.services.dhcp import extra_opts

from .. import ipam
from ..attributes import VNIC_TYPES
from ..context import RequestContext
from . import Plan, Publication
from .binding import bind
from .claims import OwnClaims, Won
from .network import _project
from .port_addresses import ClaimSnapshot, choose_ips, choose_mac, mac_pub, release_ip


UPDATABLE = {
    "name": "name", "description": "description", "admin_state_up": "admin_state_up",
    "device_id": "device_id", "device_owner": "device_owner", "binding:host_id": "binding_host_id",
    "binding:profile": "binding_profile", "binding:vnic_type": "binding_vnic_type",
    "port_security_enabled": "port_security_enabled", "security_groups": "security_groups",
}


def _pairs(value) -> tuple[AddressPair, ...]:
    """allowed_address_pairs: an address or CIDR, and an optional unicast MAC."""
    out = []
    for p in value or []:
        if not isinstance(p, dict) or "ip_address" not in p or set(p) - {"ip_address", "mac_address"}:
            raise InvalidInput("Allowed address pairs must be a list of objects with an ip_address "
                               "and optionally a mac_address")
        try:
            ip = str(ipaddress.ip_network(str(p["ip_address"]), strict=False))
        except ValueError:
            raise InvalidInput(f"'{p['ip_address']}' is not a valid IP address or CIDR") from None
        ip = ip.split("/")[0] if ip.endswith(("/32", "/128")) else ip
        mac = ipam.normalize_mac(p["mac_address"], reject_multicast=True) if p.get("mac_address") else ""
        out.append(AddressPair(ip_address=ip, mac_address=mac))
    if len({(a.ip_address, a.mac_address) for a in out}) != len(out):
        raise InvalidInput("Duplicate address detected in allowed_address_pairs")
    return tuple(out)


def _no_sg_with_port_security_off() -> BadRequest:
    return BadRequest("Port security must be enabled and port must have an IP address in order to use "
                      "security groups.", type="PortSecurityAndIPRequiredForSecurityGroups")


def port_groups(req: dict, *, project_id: str, port_security: bool,
                sg_known: Callable[[str], bool] | None) -> tuple[str, ...]:
    """security_groups of a new port: the ones asked (each must exist), else the
    project's default group (none for network:* owners and ports without security)."""
    if "security_groups" in req and req["security_groups"] is not None:
        groups = tuple(dict.fromkeys(req["security_groups"]))
        if groups and not port_security:
            raise _no_sg_with_port_security_off()
        for sg in groups:
            if sg_known is not None and not sg_known(sg):
                raise NotFound(f"Security group {sg} does not exist", type="SecurityGroupNotFound")
        return groups
    if not port_security or str(req.get("device_owner", "")).startswith("network:") or sg_known is None:
        return ()
    return (default_group_id(project_id),)


def check_port_security_update(current: dict, fields: dict) -> None:
    """Disabling port security with groups still attached: 409, as Neutron."""
    enabled = fields.get("port_security_enabled", current.get("port_security_enabled", True))
    groups = fields.get("security_groups", current.get("security_groups") or ())
    if not enabled and groups:
        if "security_groups" in fields:
            raise _no_sg_with_port_security_off()
        raise Conflict("Port has security group associated. Cannot disable port security or IP address "
                       "until security group is removed", type="PortSecurityPortHasSecurityGroup")


def decide_create(ctx: RequestContext, req: dict, *, port_id: str, network: dict, tree_seq: int,
                  subnets: list[dict], claims: ClaimSnapshot, live_agents: Sequence[dict], subjects: Subjects,
                  mac_base: str, won: Mapping[str, Won] | None = None,
                  sg_known: Callable[[str], bool] | None = None) -> Plan:
    """The fact expects the network's subject tree unchanged since ``tree_seq``: a subnet
    created, changed or deleted meanwhile makes us decide again on the new subnets.
    ``live_agents``: the L2 workers alive on the requested host."""
    net_id, own = network["id"], OwnClaims(won, port_id)
    if req.get("binding:vnic_type", "normal") not in VNIC_TYPES:
        raise InvalidInput(f"binding:vnic_type '{req['binding:vnic_type']}' is not supported")
    mac, mac_pubs = choose_mac(req.get("mac_address"), port_id=port_id, net_id=net_id, claims=claims,
                               subjects=subjects, mac_base=mac_base, own=own)
    fixed, ip_pubs = choose_ips(req.get("fixed_ips"), port_id=port_id, network=network, subnets=subnets,
                                claims=claims, subjects=subjects, mac=mac,
                                device_owner=req.get("device_owner", ""), own=own)
    host = req.get("binding:host_id", "")
    vif_type, vif_details = bind(host, network, live_agents)
    port_security = req.get("port_security_enabled", network.get("port_security_enabled", True))
    project = _project(ctx, req)
    groups = port_groups(req, project_id=project, port_security=port_security, sg_known=sg_known)
    ev = PortCreated(
        port_id=port_id, network_id=net_id, project_id=project, name=req.get("name", ""),
        description=req.get("description", ""), mac_address=mac, fixed_ips=tuple(fixed),
        admin_state_up=req.get("admin_state_up", True), device_id=req.get("device_id", ""),
        device_owner=req.get("device_owner", ""), binding_host_id=host,
        binding_profile=req.get("binding:profile", {}), binding_vnic_type=req.get("binding:vnic_type", "normal"),
        binding_vif_type=vif_type, binding_vif_details=vif_details, port_security_enabled=port_security,
        security_groups=groups,
        allowed_address_pairs=_pairs(req.get("allowed_address_pairs")), tags=tuple(req.get("tags") or ()),
        extra_dhcp_opts=extra_opts.for_create(req.get("extra_dhcp_opts")),
    )
    fact = Publication(subject=subjects.aggregate("port", port_id), kind="port", aggregate_id=port_id,
                       event=ev, step="create", expect_seq=tree_seq, expect_subject=subjects.network_tree(net_id))
    used = {subjects.claim_mac(net_id, mac)} | {subjects.claim_ip(f.subnet_id, f.ip_address) for f in fixed}
    return Plan(claims=tuple(mac_pubs + ip_pubs), facts=(fact,), releases=tuple(own.unused(used)),
                resource_id=port_id)


def _new_mac(changes: dict, current: dict, *, claims, subjects, own) -> tuple[str, list, list]:
    """(mac, claims, releases) for a MAC change; a bound port keeps its MAC (409)."""
    pid, net_id = current["id"], current["network_id"]
    if current.get("binding:vif_type") not in ("unbound", "binding_failed", None):
        raise Conflict(f"Port {pid} is bound; its MAC address cannot be changed.", type="PortBound")
    mac, pubs = choose_mac(changes["mac_address"], port_id=pid, net_id=net_id, claims=claims,
                           subjects=subjects, mac_base="", own=own)
    if mac == current["mac_address"]:
        return mac, [], []
    old = mac_pub(subjects, pid, net_id, current["mac_address"], claims.mac(net_id, current["mac_address"])[1],
                  release=True)
    return mac, pubs, [old]


def decide_update(ctx: RequestContext, current: dict, seq: int, changes: dict, *, network: dict,
                  subnets: list[dict], claims: ClaimSnapshot, live_agents: Sequence[dict], subjects: Subjects,
                  won: Mapping[str, Won] | None = None,
                  sg_known: Callable[[str], bool] | None = None) -> Plan:
    """Only changed fields go into the event; addresses dropped are released after it.
    ``live_agents``: the L2 workers alive on the host the port ends up bound to."""
    pid, net_id, own = current["id"], current["network_id"], OwnClaims(won, current["id"])
    fields = {UPDATABLE[k]: v for k, v in changes.items() if k in UPDATABLE and current.get(k) != v}
    if "security_groups" in fields:
        fields["security_groups"] = tuple(dict.fromkeys(fields["security_groups"]))
    check_port_security_update(current, fields)
    for sg in fields.get("security_groups", ()):
        if sg_known is not None and not sg_known(sg):
            raise NotFound(f"Security group {sg} does not exist", type="SecurityGroupNotFound")
    new_pubs, releases = [], []
    mac = current["mac_address"]
    if changes.get("mac_address") and ipam.normalize_mac(changes["mac_address"]) != mac:
        mac, new_pubs, releases = _new_mac(changes, current, claims=claims, subjects=subjects, own=own)
        fields["mac_address"] = mac
    used = {subjects.claim_mac(net_id, mac)}
    if "fixed_ips" in changes:
        old = {f"{f['subnet_id']}/{f['ip_address']}": f for f in current["fixed_ips"]}
        fixed, pubs = choose_ips(changes["fixed_ips"], port_id=pid, network=network, subnets=subnets,
                                 claims=claims, subjects=subjects, mac=mac,
                                 device_owner=changes.get("device_owner", current["device_owner"]),
                                 keep=set(old), own=own)
        used |= {subjects.claim_ip(f.subnet_id, f.ip_address) for f in fixed}
        if [(f.subnet_id, f.ip_address) for f in fixed] != [(f["subnet_id"], f["ip_address"])
                                                           for f in current["fixed_ips"]]:
            fields["fixed_ips"], new_pubs = tuple(fixed), new_pubs + pubs
            kept = {f"{f.subnet_id}/{f.ip_address}" for f in fixed}
            for key in sorted(set(old) - kept):
                f = old[key]
                releases.append(release_ip(subjects, pid, f["subnet_id"], f["ip_address"],
                                           claims.ip(f["subnet_id"], f["ip_address"])[1]))
    if "allowed_address_pairs" in changes:
        fields["allowed_address_pairs"] = _pairs(changes["allowed_address_pairs"])
    if "extra_dhcp_opts" in changes:
        opts = extra_opts.merge(current.get("extra_dhcp_opts"), changes["extra_dhcp_opts"])
        if [msgspec.to_builtins(o) for o in opts] != (current.get("extra_dhcp_opts") or []):
            fields["extra_dhcp_opts"] = opts
    if "binding_host_id" in fields or "binding:vnic_type" in changes:
        host = fields.get("binding_host_id", current["binding:host_id"])
        fields["binding_vif_type"], fields["binding_vif_details"] = bind(host, network, live_agents)
    releases += own.unused(used)
    if not fields:
        return Plan(releases=tuple(releases), resource_id=pid)
    fact = Publication(subject=subjects.aggregate("port", pid), kind="port", aggregate_id=pid,
                       event=PortUpdated(port_id=pid, **fields), step="update", expect_seq=seq)
    return Plan(claims=tuple(new_pubs), facts=(fact,), releases=tuple(releases), resource_id=pid)


def decide_delete(ctx: RequestContext, current: dict, seq: int, *, claims: ClaimSnapshot, subjects: Subjects) -> Plan:
    """Addresses and MAC are released after the fact (a crash in between: the janitor)."""
    pid, net_id = current["id"], current["network_id"]
    fact = Publication(subject=subjects.aggregate("port", pid), kind="port", aggregate_id=pid,
                       event=PortDeleted(port_id=pid, network_id=net_id), step="delete", expect_seq=seq)
    releases = [release_ip(subjects, pid, f["subnet_id"], f["ip_address"],
                           claims.ip(f["subnet_id"], f["ip_address"])[1]) for f in current["fixed_ips"]]
    releases.append(mac_pub(subjects, pid, net_id, current["mac_address"],
                            claims.mac(net_id, current["mac_address"])[1], release=True))
    return Plan(facts=(fact,), releases=tuple(releases), resource_id=pid)
