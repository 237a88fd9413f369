"""VPNaaS facts, worker reports and the per-router VPN intent (the contract).

Five aggregates, one subject each (``subjects.aggregate(kind, id)``): ``ikepolicy``,
``ipsecpolicy``, ``vpnservice``, ``endpoint_group`` and ``ipsec_site_connection``.
Created/Updated facts carry the *whole* resource value (a fold never merges partial
updates, so replay is trivially identical); Deleted carries the id.

Secrets: a site connection's PSK is :class:`~.secrets.Sealed` in its facts (version 2;
version 1 carried it in plaintext and is upcast on read, see ``_upcast_v1``) and in the
VPN intent (``psk_sealed``); only the VPN worker opens it, in memory, to write charon's
file. Nothing may log these structs as a whole.
"""

from __future__ import annotations

import base64

from .base import Event, Struct
from .secrets import PLAIN, Sealed

VPN_BUCKET = "NL_VPN"


class Lifetime(Struct, frozen=True, kw_only=True):
    units: str = "seconds"
    value: int = 3600


class Dpd(Struct, frozen=True, kw_only=True):
    action: str = "hold"
    interval: int = 30
    timeout: int = 120


class IkePolicy(Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    name: str = ""
    description: str = ""
    auth_algorithm: str = "sha1"
    encryption_algorithm: str = "aes-128"
    phase1_negotiation_mode: str = "main"
    ike_version: str = "v1"
    pfs: str = "group5"
    lifetime: Lifetime = Lifetime()


class IpsecPolicy(Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    name: str = ""
    description: str = ""
    transform_protocol: str = "esp"
    auth_algorithm: str = "sha1"
    encryption_algorithm: str = "aes-128"
    encapsulation_mode: str = "tunnel"
    pfs: str = "group5"
    lifetime: Lifetime = Lifetime()


class VpnService(Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    router_id: str
    subnet_id: str | None = None
    name: str = ""
    description: str = ""
    admin_state_up: bool = True


class EndpointGroup(Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    type: str
    endpoints: tuple[str, ...] = ()
    name: str = ""
    description: str = ""


class SiteConnection(Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    vpnservice_id: str
    ikepolicy_id: str
    ipsecpolicy_id: str
    peer_address: str
    peer_id: str
    psk: Sealed
    router_id: str = ""               # of the VPN service (fixed: a service never moves)
    name: str = ""
    description: str = ""
    local_id: str = ""
    peer_cidrs: tuple[str, ...] = ()
    local_ep_group_id: str | None = None
    peer_ep_group_id: str | None = None
    mtu: int = 1500
    initiator: str = "bi-directional"
    dpd: Dpd = Dpd()
    admin_state_up: bool = True


class IkePolicyCreated(Event, tag="IkePolicyCreated", frozen=True, kw_only=True):
    value: IkePolicy


class IkePolicyUpdated(Event, tag="IkePolicyUpdated", frozen=True, kw_only=True):
    value: IkePolicy


class IkePolicyDeleted(Event, tag="IkePolicyDeleted", frozen=True, kw_only=True):
    id: str


class IpsecPolicyCreated(Event, tag="IpsecPolicyCreated", frozen=True, kw_only=True):
    value: IpsecPolicy


class IpsecPolicyUpdated(Event, tag="IpsecPolicyUpdated", frozen=True, kw_only=True):
    value: IpsecPolicy


class IpsecPolicyDeleted(Event, tag="IpsecPolicyDeleted", frozen=True, kw_only=True):
    id: str


class VpnServiceCreated(Event, tag="VpnServiceCreated", frozen=True, kw_only=True):
    value: VpnService


class VpnServiceUpdated(Event, tag="VpnServiceUpdated", frozen=True, kw_only=True):
    value: VpnService


class VpnServiceDeleted(Event, tag="VpnServiceDeleted", frozen=True, kw_only=True):
    id: str


class EndpointGroupCreated(Event, tag="EndpointGroupCreated", frozen=True, kw_only=True):
    value: EndpointGroup


class EndpointGroupUpdated(Event, tag="EndpointGroupUpdated", frozen=True, kw_only=True):
    value: EndpointGroup


class EndpointGroupDeleted(Event, tag="EndpointGroupDeleted", frozen=True, kw_only=True):
    id: str


class SiteConnectionCreated(Event, tag="SiteConnectionCreated.v2", frozen=True, kw_only=True):
    """v2: ``value.psk`` is sealed (v1 held the plaintext)."""

    value: SiteConnection


class SiteConnectionUpdated(Event, tag="SiteConnectionUpdated.v2", frozen=True, kw_only=True):
    value: SiteConnection


def _upcast_v1(event: dict) -> dict:
    """A v1 connection fact (plaintext ``psk``) as v2: the PSK marked unsealed
    (scheme "none"), so reads still work until ``netledger secrets migrate`` reseals it
    in a new fact. The old event keeps its bytes: the log is immutable."""
    value = dict(event.get("value") or {})
    if isinstance(value.get("psk"), str):
        value["psk"] = {"scheme": PLAIN, "ciphertext": base64.b64encode(value["psk"].encode()).decode()}
    return {**event, "type": event["type"] + ".v2", "value": value}


# merged into codec.UPCASTERS (old tag -> next version's dict)
UPCASTERS = {"SiteConnectionCreated": _upcast_v1, "SiteConnectionUpdated": _upcast_v1}


class SiteConnectionDeleted(Event, tag="SiteConnectionDeleted", frozen=True, kw_only=True):
    id: str


class VpnStatusReported(Event, tag="VpnStatusReported", frozen=True, kw_only=True):
    """A VPN worker's view of one resource (``kind`` vpnservice or
    ipsec_site_connection) on ``host``: ACTIVE (IKE and CHILD SA up), DOWN, ERROR."""

    kind: str
    resource_id: str
    host: str
    status: str
    detail: str = ""


EVENTS = (IkePolicyCreated, IkePolicyUpdated, IkePolicyDeleted, IpsecPolicyCreated, IpsecPolicyUpdated,
          IpsecPolicyDeleted, VpnServiceCreated, VpnServiceUpdated, VpnServiceDeleted, EndpointGroupCreated,
          EndpointGroupUpdated, EndpointGroupDeleted, SiteConnectionCreated, SiteConnectionUpdated,
          SiteConnectionDeleted, VpnStatusReported)


# --- desired state of one router's VPN on its L3 host (KV bucket NL_VPN) ---------------

class VpnConnectionIntent(Struct, frozen=True, kw_only=True):
    """One site connection as charon should carry it (algorithms already in
    Neutron's names; the renderer maps them to strongSwan proposals)."""

    connection_id: str
    local_address: str
    local_id: str
    peer_address: str
    peer_id: str
    local_cidrs: tuple[str, ...]
    peer_cidrs: tuple[str, ...]
    ike: IkePolicy
    ipsec: IpsecPolicy
    initiator: str = "bi-directional"
    dpd: Dpd = Dpd()
    mtu: int = 1500
    # Sealed in the intent too (the KV bucket is in the same store files as the log);
    # the worker opens it into ``psk`` in memory only, just before rendering.
    psk_sealed: Sealed | None = None
    psk: str = ""

    def __repr__(self) -> str:
        return f"VpnConnectionIntent(connection_id={self.connection_id!r})"


class VpnIntent(Struct, frozen=True, kw_only=True):
    """Every active connection of every VPN service on one router. No key (deleted)
    means no charon should run for this router on this host."""

    router_id: str
    vpnservice_ids: tuple[str, ...] = ()
    connections: tuple[VpnConnectionIntent, ...] = ()


def vpn_key(host_token: str, router_id: str) -> str:
    return f"{host_token}.vpn.{router_id}"
