"""The metadata proxy's configuration for one network (pure JSON text).

The proxy in the network's namespace knows a caller by its source address: this file
maps every address of the network's ports to what metadata says about that port.
Rendering is canonical (sorted keys), so an unchanged network gives identical text
and the driver writes nothing.
"""

from __future__ import annotations

import ipaddress

import msgspec

from netledger.libs.events.dhcp import DhcpHost, DhcpNetwork


def _subnet_facts(net: DhcpNetwork) -> dict[str, dict]:
    """Per subnet, once (parsing a CIDR per address made large networks slow)."""
    return {s.subnet_id: {"cidr": s.cidr, "netmask": str(ipaddress.ip_network(s.cidr).netmask),
                          "ip_version": s.ip_version, "gateway": s.gateway_ip,
                          "dns_nameservers": list(s.dns_nameservers),
                          "routes": [{"destination": r.destination, "nexthop": r.nexthop} for r in s.host_routes],
                          "subnet_id": s.subnet_id} for s in net.subnets}


def instance(net: DhcpNetwork, host: DhcpHost, facts: dict[str, dict] | None = None) -> dict:
    facts = facts if facts is not None else _subnet_facts(net)
    return {"port_id": host.port_id, "device_id": host.device_id, "mac_address": host.mac_address,
            "hostname": host.hostname, "fqdn": f"{host.hostname}.{net.dns_domain}" if host.hostname else "",
            "project_id": host.project_id, "network_id": net.network_id, "mtu": net.mtu,
            "addresses": [{"ip_address": f.ip_address, **facts.get(f.subnet_id, {})} for f in host.fixed_ips]}


def render_metadata(net: DhcpNetwork, backend_url: str = "") -> str:
    """``{"network_id", "backend_url", "by_ip": {ip: instance}}`` as canonical JSON."""
    facts = _subnet_facts(net)
    by_ip = {}
    for h in net.hosts:
        inst = instance(net, h, facts)
        by_ip.update({f.ip_address: inst for f in h.fixed_ips})
    doc = {"network_id": net.network_id, "backend_url": backend_url, "by_ip": by_ip}
    return msgspec.json.encode(doc, order="sorted").decode() + "\n"
