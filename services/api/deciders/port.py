"""Deciders for ports: addresses and MAC are claimed, then the fact is published.

Claims are owned by the port id, so a retried decision (after a lost race) reuses
what this port already holds instead of claiming again.
"""

from __future__ import annotations

import random
from typing import Protocol

from netledger.errors import Conflict, InvalidInput
from netledger.libs.events.claims import IpClaimed, IpReleased, MacClaimed, MacReleased
from netledger.libs.events.port import AddressPair, FixedIp, PortCreated, PortDeleted, PortUpdated
from netledger.libs.events.subjects import Subjects

from .. import ipam
from ..attributes import VNIC_TYPES
from ..context import RequestContext
from . import Plan, Publication
from .binding import bind
from .network import _project

Claim = tuple[str, int, bool]  # (owner, last sequence on the claim subject, held)


class ClaimView(Protocol):
    def ip(self, subnet_id: str, ip: str) -> Claim: ...
    def mac(self, network_id: str, mac: str) -> Claim: ...
    def free_ips(self, subnet: dict, count: int, rng: random.Random, exclude: set[str]) -> list[str]: ...


class AgentView(Protocol):
    def live_on(self, host: str) -> list[dict]: ...


UPDATABLE = {
    "name": "name", "description": "description", "admin_state_up": "admin_state_up",
    "device_id": "device_id", "device_owner": "device_owner", "binding:host_id": "binding_host_id",
    "binding:profile": "binding_profile", "binding:vnic_type": "binding_vnic_type",
    "port_security_enabled": "port_security_enabled", "security_groups": "security_groups",
}


def _claim_ip(subjects, port_id, subnet_id, ip, seq, *, chosen) -> Publication:
    return Publication(subject=subjects.claim_ip(subnet_id, ip), kind="claim", aggregate_id=port_id,
                       step=f"claim-ip-{subnet_id}-{ip}", expect_seq=seq, chosen=chosen,
                       event=IpClaimed(subnet_id=subnet_id, ip_address=ip, owner=port_id))


def _release_ip(subjects, port_id, subnet_id, ip, seq) -> Publication:
    return Publication(subject=subjects.claim_ip(subnet_id, ip), kind="claim", aggregate_id=port_id,
                       step=f"release-ip-{subnet_id}-{ip}", expect_seq=seq,
                       event=IpReleased(subnet_id=subnet_id, ip_address=ip, owner=port_id))


def _mac(subjects, port_id, net_id, mac, seq, *, chosen=False, release=False) -> Publication:
    cls = MacReleased if release else MacClaimed
    return Publication(subject=subjects.claim_mac(net_id, mac), kind="claim", aggregate_id=port_id,
                       step=f"{'release' if release else 'claim'}-mac-{mac}", expect_seq=seq, chosen=chosen,
                       event=cls(network_id=net_id, mac_address=mac, owner=port_id))


def choose_mac(req_mac, *, port_id, net_id, claims: ClaimView, subjects, rng, mac_base) -> tuple[str, list]:
    if req_mac:
        mac = ipam.normalize_mac(req_mac)
        owner, seq, held = claims.mac(net_id, mac)
        if held and owner != port_id:
            raise Conflict(f"Unable to complete operation for network {net_id}. The mac address {mac} "
                           "is in use.", type="MacAddressInUse")
        return mac, ([] if held else [_mac(subjects, port_id, net_id, mac, seq)])
    for _ in range(16):
        mac = ipam.generate_mac(mac_base, rng)
        owner, seq, held = claims.mac(net_id, mac)
        if not held:
            return mac, [_mac(subjects, port_id, net_id, mac, seq, chosen=True)]
    raise Conflict("Unable to generate unique mac", type="MacAddressGenerationFailure")


def default_fixed_ips(subnets: list[dict]) -> list[tuple[str, str | None]]:
    """Neutron's default: one IPv4 address (first subnet with room is tried first by
    the caller), and one address per IPv6 subnet."""
    v4 = [s for s in subnets if s["ip_version"] == 4]
    v6 = [s for s in subnets if s["ip_version"] == 6]
    return ([(v4[0]["id"], None)] if v4 else []) + [(s["id"], None) for s in v6]


def choose_ips(requested, *, port_id, network, subnets, claims: ClaimView, subjects, rng, mac,
               device_owner="", keep: dict[str, str] | None = None) -> tuple[list[FixedIp], list]:
    """Resolve the fixed_ips request into addresses and the claims still needed.

    ``keep`` maps already-held "subnet/ip" of this port (updates) to skip re-claiming.
    """
    keep = keep or {}
    by_id = {s["id"]: s for s in subnets}
    pairs = (ipam.resolve_fixed_ips(requested, subnets, network_id=network["id"])
             if requested is not None else default_fixed_ips(subnets))
    result, pubs, taken = [], [], set()
    for subnet_id, ip in pairs:
        subnet = by_id[subnet_id]
        if ip is None:
            ip = _auto_ip(subnet, mac, claims, rng, taken)
            chosen = subnet.get("ipv6_address_mode") not in ("slaac", "dhcpv6-stateless")
        else:
            ip = ipam.check_fixed_ip(subnet, ip, network_id=network["id"], device_owner=device_owner)
            chosen = False
        taken.add(ip)
        result.append(FixedIp(subnet_id=subnet_id, ip_address=ip))
        if f"{subnet_id}/{ip}" in keep:
            continue
        owner, seq, held = claims.ip(subnet_id, ip)
        if held and owner != port_id:
            raise Conflict(f"IP address {ip} already allocated in subnet {subnet_id}",
                           type="IpAddressAlreadyAllocated")
        if not held:
            pubs.append(_claim_ip(subjects, port_id, subnet_id, ip, seq, chosen=chosen))
    return result, pubs


def _auto_ip(subnet, mac, claims: ClaimView, rng, taken) -> str:
    if subnet["ip_version"] == 6 and subnet.get("ipv6_address_mode") in ("slaac", "dhcpv6-stateless"):
        return ipam.eui64(subnet["cidr"], mac)
    return claims.free_ips(subnet, 1, rng, taken)[0]


def _pairs(value) -> tuple[AddressPair, ...]:
    out = []
    for p in value or []:
        if not isinstance(p, dict) or "ip_address" not in p:
            raise InvalidInput("Allowed address pairs must be a list of objects with an ip_address")
        out.append(AddressPair(ip_address=p["ip_address"], mac_address=p.get("mac_address") or ""))
    return tuple(out)


def decide_create(ctx: RequestContext, req: dict, *, port_id: str, network: dict, tree_seq: int,
                  subnets: list[dict], claims: ClaimView, agents: AgentView, subjects: Subjects,
                  rng: random.Random, mac_base: str) -> Plan:
    net_id = network["id"]
    if req.get("binding:vnic_type", "normal") not in VNIC_TYPES:
        raise InvalidInput(f"binding:vnic_type '{req['binding:vnic_type']}' is not supported")
    mac, mac_pubs = choose_mac(req.get("mac_address"), port_id=port_id, net_id=net_id, claims=claims,
                               subjects=subjects, rng=rng, mac_base=mac_base)
    fixed, ip_pubs = choose_ips(req.get("fixed_ips"), port_id=port_id, network=network, subnets=subnets,
                                claims=claims, subjects=subjects, rng=rng, mac=mac,
                                device_owner=req.get("device_owner", ""))
    host = req.get("binding:host_id", "")
    vif_type, vif_details = bind(host, network, agents)
    port_security = req.get("port_security_enabled", network.get("port_security_enabled", True))
    ev = PortCreated(
        port_id=port_id, network_id=net_id, project_id=_project(ctx, req), name=req.get("name", ""),
        description=req.get("description", ""), mac_address=mac, fixed_ips=tuple(fixed),
        admin_state_up=req.get("admin_state_up", True), device_id=req.get("device_id", ""),
        device_owner=req.get("device_owner", ""), binding_host_id=host,
        binding_profile=req.get("binding:profile", {}), binding_vnic_type=req.get("binding:vnic_type", "normal"),
        binding_vif_type=vif_type, binding_vif_details=vif_details, port_security_enabled=port_security,
        security_groups=tuple(req.get("security_groups") or ()),
        allowed_address_pairs=_pairs(req.get("allowed_address_pairs")),
    )
    fact = Publication(subject=subjects.aggregate("port", port_id), kind="port", aggregate_id=port_id,
                       event=ev, step="create", expect_seq=tree_seq, expect_subject=subjects.network_tree(net_id))
    return Plan(claims=tuple(mac_pubs + ip_pubs), facts=(fact,), resource_id=port_id)


def decide_update(ctx: RequestContext, current: dict, seq: int, changes: dict, *, network: dict,
                  subnets: list[dict], claims: ClaimView, agents: AgentView, subjects: Subjects,
                  rng: random.Random) -> Plan:
    pid, net_id = current["id"], current["network_id"]
    fields = {UPDATABLE[k]: v for k, v in changes.items() if k in UPDATABLE and current.get(k) != v}
    if "security_groups" in fields:
        fields["security_groups"] = tuple(fields["security_groups"])
    new_pubs, releases = [], []
    if "mac_address" in changes and changes["mac_address"] != current["mac_address"]:
        if current.get("binding:vif_type") not in ("unbound", "binding_failed", None):
            raise Conflict(f"Port {pid} is bound; its MAC address cannot be changed.", type="PortBound")
        mac, pubs = choose_mac(changes["mac_address"], port_id=pid, net_id=net_id, claims=claims,
                               subjects=subjects, rng=rng, mac_base="")
        fields["mac_address"], new_pubs = mac, new_pubs + pubs
        releases.append(_mac(subjects, pid, net_id, current["mac_address"],
                             claims.mac(net_id, current["mac_address"])[1], release=True))
    if "fixed_ips" in changes:
        old = {f"{f['subnet_id']}/{f['ip_address']}": f for f in current["fixed_ips"]}
        fixed, pubs = choose_ips(changes["fixed_ips"], port_id=pid, network=network, subnets=subnets,
                                 claims=claims, subjects=subjects, rng=rng,
                                 mac=fields.get("mac_address", current["mac_address"]),
                                 device_owner=changes.get("device_owner", current["device_owner"]), keep=old)
        kept = {f"{f.subnet_id}/{f.ip_address}" for f in fixed}
        if kept != set(old) or len(fixed) != len(current["fixed_ips"]):
            fields["fixed_ips"], new_pubs = tuple(fixed), new_pubs + pubs
            for key in sorted(set(old) - kept):
                f = old[key]
                releases.append(_release_ip(subjects, pid, f["subnet_id"], f["ip_address"],
                                            claims.ip(f["subnet_id"], f["ip_address"])[1]))
    if "allowed_address_pairs" in changes:
        fields["allowed_address_pairs"] = _pairs(changes["allowed_address_pairs"])
    if "binding_host_id" in fields or "binding:vnic_type" in changes:
        host = fields.get("binding_host_id", current["binding:host_id"])
        fields["binding_vif_type"], fields["binding_vif_details"] = bind(host, network, agents)
    if not fields:
        return Plan(resource_id=pid)
    fact = Publication(subject=subjects.aggregate("port", pid), kind="port", aggregate_id=pid,
                       event=PortUpdated(port_id=pid, **fields), step="update", expect_seq=seq)
    return Plan(claims=tuple(new_pubs), facts=(fact,), releases=tuple(releases), resource_id=pid)


def decide_delete(ctx: RequestContext, current: dict, seq: int, *, claims: ClaimView, subjects: Subjects) -> Plan:
    pid, net_id = current["id"], current["network_id"]
    fact = Publication(subject=subjects.aggregate("port", pid), kind="port", aggregate_id=pid,
                       event=PortDeleted(port_id=pid, network_id=net_id), step="delete", expect_seq=seq)
    releases = [_release_ip(subjects, pid, f["subnet_id"], f["ip_address"],
                            claims.ip(f["subnet_id"], f["ip_address"])[1]) for f in current["fixed_ips"]]
    releases.append(_mac(subjects, pid, net_id, current["mac_address"],
                         claims.mac(net_id, current["mac_address"])[1], release=True))
    return Plan(facts=(fact,), releases=tuple(releases), resource_id=pid)

