"""DHCP: scheduling facts (aggregate subject ``<prefix>.evt.dhcp.<network_id>``) and the
per-host DHCP intent that topology compiles into the ``NL_DHCP`` KV bucket.

Scheduling is decided by the API process's DHCP scheduler (as Neutron's server-side
dhcp_agent_scheduler does) and recorded here, one subject per network, published with
the subject's expected last sequence: two schedulers racing for one network cannot both
win. The DHCP port itself is an ordinary port (device_owner ``network:dhcp``) created
through the port deciders and claims, bound to the chosen host.

Intent keys: ``<host_token>.net.<network_id>`` -> :class:`DhcpNetwork`. A deleted key
means "serve no DHCP for this network on this host".
"""

from __future__ import annotations

from .base import Event, Struct
from .port import ExtraDhcpOpt, FixedIp
from .subnet import HostRoute

DHCP_BUCKET = "NL_DHCP"
DHCP_OWNER = "network:dhcp"
AGENT_TYPE = "DHCP agent"
METADATA_IP = "169.254.169.254"


class DhcpNetworkScheduled(Event, tag="DhcpNetworkScheduled", frozen=True, kw_only=True):
    """Network ``network_id`` is served by the DHCP agent on ``host`` through ``port_id``."""

    network_id: str
    host: str
    agent_id: str
    port_id: str


class DhcpNetworkUnscheduled(Event, tag="DhcpNetworkUnscheduled", frozen=True, kw_only=True):
    """No agent serves the network any more (DHCP disabled, network gone, agent dead)."""

    network_id: str
    host: str
    agent_id: str = ""


EVENTS = (DhcpNetworkScheduled, DhcpNetworkUnscheduled)


# --- intents (KV values, not events)

class DhcpSubnet(Struct, frozen=True, kw_only=True):
    """A DHCP-enabled subnet as dnsmasq needs it."""

    subnet_id: str
    cidr: str
    ip_version: int = 4
    gateway_ip: str | None = None
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[HostRoute, ...] = ()
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None


class DhcpHost(Struct, frozen=True, kw_only=True):
    """One port of the network: its reservation and what metadata says about it."""

    port_id: str
    mac_address: str
    fixed_ips: tuple[FixedIp, ...] = ()
    hostname: str = ""
    device_id: str = ""
    device_owner: str = ""
    project_id: str = ""
    extra_dhcp_opts: tuple[ExtraDhcpOpt, ...] = ()
    revision_number: int = 0


class DhcpNetwork(Struct, frozen=True, kw_only=True):
    """Everything one host's DHCP worker serves for one network (sorted, canonical)."""

    network_id: str
    project_id: str = ""
    mtu: int = 1450
    dns_domain: str = "openstacklocal"
    port: DhcpHost                        # the network:dhcp port this host plugs
    subnets: tuple[DhcpSubnet, ...] = ()
    hosts: tuple[DhcpHost, ...] = ()      # every other port with an address to hand out
    metadata: bool = True                 # isolated metadata proxy + option 121 route


def dhcp_key(host_token: str, network_id: str) -> str:
    return f"{host_token}.net.{network_id}"
