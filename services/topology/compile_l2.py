"""Rows -> per-host L2 intents for one network (pure).

Everything a host needs for a network is recomputed whenever anything about that
network changes (its segment, a port bound or unbound anywhere, a peer's tunnel IP):
the port keys of the ports bound to each host, and one network key per host with the
tunnel IPs of the *other* hosts that have ports on it. Comparing the result with what
was published gives the KV puts and deletes, so publishing is idempotent.
"""

from __future__ import annotations

import msgspec

from netledger.libs.events.intents import AllowedPair, L2Network, L2Port, network_key, port_key
from netledger.libs.events.subjects import host_token

_enc = msgspec.json.Encoder()
UNWIRED = ("unbound", "binding_failed", "")


def bound_host(port: dict) -> str | None:
    host = port.get("binding:host_id") or ""
    return host if host and port.get("binding:vif_type") not in UNWIRED else None


def compile_network(network: dict | None, ports: list[dict], tunnel_ips: dict[str, str]) -> dict[str, bytes]:
    """All intent keys (and encoded values) that exist because of this network."""
    if network is None:
        return {}
    seg = dict(network_type=network.get("provider:network_type") or "local",
               segmentation_id=network.get("provider:segmentation_id"),
               physical_network=network.get("provider:physical_network"), mtu=network.get("mtu", 1450))
    by_host: dict[str, list[dict]] = {}
    for port in ports:
        host = bound_host(port)
        if host:
            by_host.setdefault(host, []).append(port)
    out: dict[str, bytes] = {}
    for host, host_ports in by_host.items():
        token = host_token(host)
        peers = tuple(sorted({tunnel_ips[h] for h in by_host if h != host and tunnel_ips.get(h)}))
        out[network_key(token, network["id"])] = _enc.encode(L2Network(network_id=network["id"], peers=peers, **seg))
        for port in host_ports:
            out[port_key(token, port["id"])] = _enc.encode(L2Port(
                port_id=port["id"], network_id=network["id"], mac_address=port["mac_address"],
                fixed_ips=tuple(f["ip_address"] for f in port.get("fixed_ips", [])),
                admin_state_up=bool(port.get("admin_state_up", True)) and bool(network.get("admin_state_up", True)),
                device_id=port.get("device_id", ""), device_owner=port.get("device_owner", ""),
                revision_number=port.get("revision_number", 0), **seg, **port_security(port)))
    return out


def port_security(port: dict) -> dict:
    """SG fields of a port's intent; network:* ports (router, DHCP) are trusted, as
    Neutron's firewall drivers treat them."""
    if not port.get("port_security_enabled", True) or str(port.get("device_owner", "")).startswith("network:"):
        return {}
    pairs = tuple(AllowedPair(ip_address=p["ip_address"], mac_address=p.get("mac_address") or "")
                  for p in port.get("allowed_address_pairs", []))
    return dict(port_security_enabled=True, security_groups=tuple(sorted(port.get("security_groups", []))),
                allowed_address_pairs=pairs)


def diff(published: dict[str, bytes], desired: dict[str, bytes]) -> tuple[dict[str, bytes], list[str]]:
    """(keys to put, keys to delete) to go from what was published to what is desired."""
    puts = {k: v for k, v in desired.items() if published.get(k) != v}
    deletes = sorted(set(published) - set(desired))
    return puts, deletes
