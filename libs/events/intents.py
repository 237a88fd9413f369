"""Desired state that topology compiles for each host's workers.

Intents live in JetStream KV buckets, one key per object a worker reconciles:
``<host>.port.<port_id>`` and ``<host>.net.<network_id>`` in bucket ``NL_L2``.
A deleted key means "this host should have none of it". Values are msgspec JSON of
the structs below. Workers reconcile level-triggered: a key change only says "look
at this object again"; what to do comes from comparing the value with what is
really on the host.
"""

from __future__ import annotations

from .base import Struct

L2_BUCKET = "NL_L2"


class L2Network(Struct, frozen=True, kw_only=True):
    """A network as one host needs it: segment and the tunnel peers that matter.

    ``peers`` are the tunnel IPs of the *other* hosts that have ports on this
    network (tunnels go only where they are needed), sorted.
    """

    network_id: str
    network_type: str
    segmentation_id: int | None = None
    physical_network: str | None = None
    mtu: int = 1450
    peers: tuple[str, ...] = ()


class AllowedPair(Struct, frozen=True, kw_only=True):
    """An extra (address or CIDR, MAC) a port may send from ("" MAC: the port's own)."""

    ip_address: str
    mac_address: str = ""


class L2Port(Struct, frozen=True, kw_only=True):
    """A port bound to this host: what the worker must wire for it.

    ``port_security_enabled`` False (the default, so intents from before security
    groups keep their behaviour) means no filtering at all for this port.
    """

    port_id: str
    network_id: str
    mac_address: str
    fixed_ips: tuple[str, ...] = ()
    admin_state_up: bool = True
    device_id: str = ""
    device_owner: str = ""
    revision_number: int = 0
    network_type: str = "local"
    segmentation_id: int | None = None
    physical_network: str | None = None
    mtu: int = 1450
    port_security_enabled: bool = False
    security_groups: tuple[str, ...] = ()
    allowed_address_pairs: tuple[AllowedPair, ...] = ()


class SgRuleIntent(Struct, frozen=True, kw_only=True):
    """One rule as a dataplane needs it: protocol as a number (None = any)."""

    direction: str
    ethertype: str = "IPv4"
    protocol: int | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str = ""
    remote_group_id: str = ""


class SecurityGroupIntent(Struct, frozen=True, kw_only=True):
    """``<host>.sg.<id>``: a group some port on this host is in (rules sorted)."""

    sg_id: str
    stateful: bool = True
    rules: tuple[SgRuleIntent, ...] = ()


class SgMembers(Struct, frozen=True, kw_only=True):
    """``<host>.sgm.<id>``: addresses of a group's ports, for hosts whose rules name
    it as remote group (sorted; fixed IPs and allowed-pair addresses)."""

    sg_id: str
    addresses: tuple[str, ...] = ()


def port_key(host_token: str, port_id: str) -> str:
    return f"{host_token}.port.{port_id}"


def network_key(host_token: str, network_id: str) -> str:
    return f"{host_token}.net.{network_id}"


def sg_key(host_token: str, sg_id: str) -> str:
    return f"{host_token}.sg.{sg_id}"


def sg_members_key(host_token: str, sg_id: str) -> str:
    return f"{host_token}.sgm.{sg_id}"


def is_sg_key(key: str) -> bool:
    parts = key.split(".")
    return len(parts) >= 3 and parts[1] in ("sg", "sgm")
