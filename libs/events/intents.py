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


class L2Port(Struct, frozen=True, kw_only=True):
    """A port bound to this host: what the worker must wire for it."""

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


def port_key(host_token: str, port_id: str) -> str:
    return f"{host_token}.port.{port_id}"


def network_key(host_token: str, network_id: str) -> str:
    return f"{host_token}.net.{network_id}"
