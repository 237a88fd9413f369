"""Deciders for VPNaaS (pure): validation as Neutron's VPNaaS does it, then the facts.

Every fact carries the resource's whole new value and expects its subject's last
sequence (a concurrent update of the same resource re-decides). Cross-resource
checks ("a policy in use cannot be deleted", "the local subnets are on the router")
are made against the projection the handler read; they are as strong as Neutron's
own (which checks in one DB transaction) except for a write racing on *another*
aggregate inside the projection's lag, a window the handler keeps short by
waiting for read-your-writes before answering.

Algorithms: the API accepts neutron-lib's values; values the strongSwan userspace
data path here (kernel-libipsec) cannot carry are refused with a 400 naming them.
"""

from __future__ import annotations

import ipaddress
import re

import msgspec

from netledger.errors import BadRequest, Conflict, InvalidInput
from netledger.libs.events import vpnaas as V
from netledger.libs.events.subjects import Subjects

from . import Plan, Publication

AUTH = ("sha1", "sha256", "sha384", "sha512", "aes-xcbc", "aes-cmac")
ENCRYPTION = ("3des", "aes-128", "aes-192", "aes-256", *(f"aes-{b}-ctr" for b in (128, 192, 256)),
              *(f"aes-{b}-{m}-{i}" for m in ("ccm", "gcm") for b in (128, 192, 256) for i in (8, 12, 16)))
PFS = tuple(f"group{g}" for g in (2, 5, *range(14, 32)))
# What kernel-libipsec + the loaded plugins (openssl, aes, gcm, gmp, sha1, sha2, hmac, xcbc) do.
SUPPORTED_AUTH = ("sha1", "sha256", "sha384", "sha512", "aes-xcbc")
SUPPORTED_PFS = tuple(f"group{g}" for g in (2, 5, 14, 15, 16, 17, 18, 19, 20, 21))
DPD_ACTIONS = ("clear", "hold", "restart", "disabled", "restart-by-peer")
# IDs and peer addresses land inside a generated config: a conservative alphabet.
ID_RE = re.compile(r"^[A-Za-z0-9@._:=,/+ -]{1,255}$")
HOST_RE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9-]{1,63}$")

EVENTS = {
    "ikepolicy": (V.IkePolicy, V.IkePolicyCreated, V.IkePolicyUpdated, V.IkePolicyDeleted),
    "ipsecpolicy": (V.IpsecPolicy, V.IpsecPolicyCreated, V.IpsecPolicyUpdated, V.IpsecPolicyDeleted),
    "vpnservice": (V.VpnService, V.VpnServiceCreated, V.VpnServiceUpdated, V.VpnServiceDeleted),
    "endpoint_group": (V.EndpointGroup, V.EndpointGroupCreated, V.EndpointGroupUpdated, V.EndpointGroupDeleted),
    "ipsec_site_connection": (V.SiteConnection, V.SiteConnectionCreated, V.SiteConnectionUpdated,
                              V.SiteConnectionDeleted),
}
IN_USE = {"ikepolicy": ("IKEPolicyInUse", "IKEPolicy"), "ipsecpolicy": ("IPsecPolicyInUse", "IPsecPolicy"),
          "vpnservice": ("VPNServiceInUse", "VPNService"), "endpoint_group": ("EndpointGroupInUse", "Endpoint group")}


# --- attribute converters (used by the handler's attribute specs) ----------------------

def one_of(values: tuple[str, ...]):
    def conv(value, name: str) -> str:
        if value not in values:
            raise BadRequest(f"Invalid input for {name}. Reason: '{value}' is not in {list(values)}.")
        return value
    return conv


def to_lifetime(value, name: str) -> dict:
    if not isinstance(value, dict) or set(value) - {"units", "value"}:
        raise BadRequest(f"Invalid input for {name}. Reason: expected {{'units': 'seconds', 'value': N}}.")
    if value.get("units", "seconds") != "seconds":
        raise BadRequest(f"Invalid input for {name}. Reason: '{value.get('units')}' is not in ['seconds'].")
    seconds = value.get("value", 3600)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 60:
        raise BadRequest(f"Invalid input for {name}. Reason: '{seconds}' should be an integer >= 60.")
    return {"units": "seconds", "value": seconds}


def to_dpd(value, name: str) -> dict:
    if not isinstance(value, dict) or set(value) - {"action", "interval", "timeout"}:
        raise BadRequest(f"Invalid input for {name}. Reason: expected keys action, interval, timeout.")
    for key in ("interval", "timeout"):
        v = value.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v <= 0):
            raise BadRequest(f"Invalid input for {name}. Reason: '{v}' is not a positive integer.")
    if "action" in value:
        one_of(DPD_ACTIONS)(value["action"], name)
    return dict(value)


def to_cidrs(value, name: str) -> list[str]:
    if not isinstance(value, list):
        raise BadRequest(f"Invalid input for {name}. Reason: '{value}' is not a list.")
    out = []
    for c in value:
        try:
            out.append(str(ipaddress.ip_network(str(c), strict=False)))
        except ValueError:
            raise BadRequest(f"Invalid input for {name}. Reason: '{c}' is not a valid IP subnet.") from None
    return out


def to_peer_address(value, name: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        if isinstance(value, str) and HOST_RE.match(value):
            return value
    raise BadRequest(f"Invalid input for {name}. Reason: '{value}' is not a valid IP address or FQDN.")


def to_ident(value, name: str) -> str:
    if value in (None, "") and name == "local_id":
        return ""
    if not isinstance(value, str) or not ID_RE.match(value):
        raise BadRequest(f"Invalid input for {name}. Reason: '{value}' is not a valid IKE identity "
                         "(letters, digits, @._:=,/+- and spaces).")
    return value


def to_psk(value, name: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 255 or "\n" in value:
        raise BadRequest(f"Invalid input for {name}. Reason: a non-empty string of at most 255 characters.")
    return value


# --- driver limits ----------------------------------------------------------------------

def check_supported(kind: str, v) -> None:
    """400 for values neutron-lib accepts but this deployment's IPsec driver cannot carry."""
    what = "IKE policy" if kind == "ikepolicy" else "IPsec policy"
    bad = []
    if "-ctr" in v.encryption_algorithm or "-ccm-" in v.encryption_algorithm:
        bad.append(f"encryption_algorithm {v.encryption_algorithm}")
    if v.auth_algorithm not in SUPPORTED_AUTH:
        bad.append(f"auth_algorithm {v.auth_algorithm}")
    if v.pfs not in SUPPORTED_PFS:
        bad.append(f"pfs {v.pfs}")
    if kind == "ipsecpolicy" and v.transform_protocol != "esp":
        bad.append(f"transform_protocol {v.transform_protocol}")
    if kind == "ipsecpolicy" and v.encapsulation_mode != "tunnel":
        bad.append(f"encapsulation_mode {v.encapsulation_mode}")
    if bad:
        raise BadRequest(f"Unsupported {what} value(s) for the strongSwan (kernel-libipsec) IPsec driver: "
                         f"{', '.join(bad)}.", type="BadRequest")


# --- building values --------------------------------------------------------------------

def build(kind: str, fields: dict):
    """The resource value from API attributes (msgspec converts nested dicts)."""
    cls = EVENTS[kind][0]
    data = {k: v for k, v in fields.items() if k in cls.__struct_fields__}
    try:
        return msgspec.convert(data, cls)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"Invalid input: {exc}") from None


def check_connection(conn: V.SiteConnection, *, service: dict, router: dict, router_subnets: set[str],
                     local_group: dict | None, peer_group: dict | None) -> None:
    """Neutron's validator: endpoint groups XOR (service subnet + peer_cidrs), group types,
    local subnets on the service's router, DPD timeout above interval, MTU range."""
    if conn.dpd.timeout <= conn.dpd.interval:
        raise InvalidInput("DPD timeout must be greater than DPD interval.", type="IPsecSiteConnectionDpdIntervalValueError")
    if not 68 <= conn.mtu <= 65535:
        raise InvalidInput(f"ipsec_site_connection MTU {conn.mtu} is too small or too large.",
                           type="IPsecSiteConnectionMtuError")
    groups = (conn.local_ep_group_id, conn.peer_ep_group_id)
    if service.get("subnet_id"):
        if any(groups):
            raise BadRequest("Cannot specify both subnet and endpoint groups for VPN service "
                             f"{service['id']}.", type="SubnetInUseByVPNService")
        if not conn.peer_cidrs:
            raise BadRequest("Missing peer CIDRs for IPsec site-to-site connection.", type="MissingPeerCidrs")
    else:
        if not all(groups):
            raise BadRequest("Missing endpoint group(s) for IPsec site-to-site connection.",
                             type="MissingRequiredEndpointGroup")
        if conn.peer_cidrs:
            raise BadRequest("Peer CIDRs cannot be specified when using endpoint groups.", type="PeerCidrsInvalid")
        if local_group is None or local_group["type"] != "subnet":
            raise BadRequest("Local endpoint group must be of type 'subnet'.", type="WrongEndpointGroupType")
        if peer_group is None or peer_group["type"] != "cidr":
            raise BadRequest("Peer endpoint group must be of type 'cidr'.", type="WrongEndpointGroupType")
    local = local_group["endpoints"] if local_group else [service["subnet_id"]]
    missing = [s for s in local if s not in router_subnets]
    if missing:
        raise BadRequest(f"Subnet(s) {', '.join(missing)} not attached to router {router['id']}.",
                         type="SubnetIsNotConnectedToRouter")


def check_service(service: V.VpnService, router: dict, router_subnets: set[str]) -> None:
    if not router.get("external_gateway_info"):
        raise BadRequest(f"Router {router['id']} has no external network gateway set.", type="RouterIsNotExternal")
    if service.subnet_id and service.subnet_id not in router_subnets:
        raise BadRequest(f"Subnet {service.subnet_id} is not connected to Router {router['id']}.",
                         type="SubnetIsNotConnectedToRouter")


def check_endpoint_group(group: V.EndpointGroup) -> None:
    if group.type not in ("subnet", "cidr"):
        raise BadRequest(f"Endpoint group type {group.type} is not supported (subnet or cidr).",
                         type="InvalidEndpointGroup")
    if not group.endpoints:
        raise BadRequest("Endpoint group requires at least one endpoint.", type="InvalidEndpointGroup")
    if group.type == "cidr":
        to_cidrs(list(group.endpoints), "endpoints")
    else:
        for e in group.endpoints:
            if not re.fullmatch(r"[0-9a-f-]{36}", e):
                raise BadRequest(f"Invalid input for endpoints. Reason: '{e}' is not a valid UUID.")


# --- plans ------------------------------------------------------------------------------

def pub(subjects: Subjects, kind: str, rid: str, event, step: str, seq: int) -> Publication:
    return Publication(subject=subjects.aggregate(kind, rid), kind=kind, aggregate_id=rid, event=event,
                       step=step, expect_seq=seq)


def decide_create(kind: str, value, subjects: Subjects) -> Plan:
    ev = EVENTS[kind][1](value=value)
    return Plan(facts=(pub(subjects, kind, value.id, ev, "create", 0),), resource_id=value.id)


def decide_update(kind: str, old, new, seq: int, subjects: Subjects, *, users: int = 0) -> Plan:
    """Whole new value; nothing when unchanged. Policies in use cannot be updated."""
    if new == old:
        return Plan(resource_id=new.id)
    if users and kind in ("ikepolicy", "ipsecpolicy"):
        raise _in_use(kind, new.id)
    ev = EVENTS[kind][2](value=new)
    return Plan(facts=(pub(subjects, kind, new.id, ev, "update", seq),), resource_id=new.id)


def decide_delete(kind: str, rid: str, seq: int, subjects: Subjects, *, users: int = 0) -> Plan:
    if users:
        raise _in_use(kind, rid)
    ev = EVENTS[kind][3](id=rid)
    return Plan(facts=(pub(subjects, kind, rid, ev, "delete", seq),), resource_id=rid)


def _in_use(kind: str, rid: str) -> Conflict:
    etype, pretty = IN_USE[kind]
    by = "IPsecSiteConnection" if kind != "vpnservice" else "IPsecSiteConnection(s)"
    return Conflict(f"{pretty} {rid} is in use by existing {by} and can't be updated or deleted", type=etype)
