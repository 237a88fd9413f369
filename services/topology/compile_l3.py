"""Rows -> the L3 intent of one router on its scheduled host (pure).

A router with no host compiles to nothing (its key is deleted: no worker should
run it). Interfaces, the gateway and floating IPs are read from the rows of their
ports, so the intent always names real ports with the addresses they hold; a
floating IP whose port is gone is simply not in it. Output is sorted, so equal
inputs give byte-equal values and publishing is idempotent (compile_l2.diff).
"""

from __future__ import annotations

import ipaddress

import msgspec

from netledger.libs.events.base import Struct
from netledger.libs.events.fwaas import FwGroupIntent
from netledger.libs.events.l3_intents import L3FloatingIp, L3Gateway, L3Port, RouterIntent, router_key
from netledger.libs.events.router import Route
from netledger.libs.events.subjects import host_token

_enc = msgspec.json.Encoder()


class RouterInputs(Struct, frozen=True, kw_only=True):
    """What the compiler reads: plain row bodies (dicts) from the projection."""

    router: dict
    host: str = ""
    ports: dict[str, dict] = {}       # port id -> port body (interfaces and gateway)
    subnets: dict[str, dict] = {}     # subnet id -> subnet body (of those ports)
    mtus: dict[str, int] = {}         # network id -> mtu
    interface_ports: tuple[str, ...] = ()
    gw_port_id: str = ""
    floatingips: tuple[dict, ...] = ()   # floatingip bodies whose port exists
    firewall_groups: tuple[FwGroupIntent, ...] = ()   # compiled by services/advanced/fw (this router's ports)


def _l3_port(port: dict, subnets: dict[str, dict], mtus: dict[str, int]) -> L3Port:
    cidrs = []
    for f in port.get("fixed_ips", []):
        sub = subnets.get(f["subnet_id"])
        if sub:
            cidrs.append(f"{f['ip_address']}/{ipaddress.ip_network(sub['cidr']).prefixlen}")
    return L3Port(port_id=port["id"], network_id=port["network_id"], mac_address=port["mac_address"],
                  cidrs=tuple(sorted(cidrs)), mtu=mtus.get(port["network_id"], 1450))


def _gateway(inp: RouterInputs) -> L3Gateway | None:
    port = inp.ports.get(inp.gw_port_id)
    info = inp.router.get("external_gateway_info")
    if port is None or not info:
        return None
    gw_ip = next((inp.subnets[f["subnet_id"]].get("gateway_ip") or "" for f in port.get("fixed_ips", [])
                  if f["subnet_id"] in inp.subnets and ipaddress.ip_address(f["ip_address"]).version == 4), "")
    return L3Gateway(port=_l3_port(port, inp.subnets, inp.mtus), gateway_ip=gw_ip,
                     enable_snat=bool(info.get("enable_snat", True)))


def build_intent(inp: RouterInputs) -> RouterIntent:
    itfs = [_l3_port(inp.ports[p], inp.subnets, inp.mtus) for p in sorted(inp.interface_ports) if p in inp.ports]
    gateway = _gateway(inp)
    fips = () if gateway is None else tuple(sorted(
        (L3FloatingIp(floatingip_id=f["id"], floating_ip_address=f["floating_ip_address"],
                      fixed_ip_address=f["fixed_ip_address"]) for f in inp.floatingips if f.get("fixed_ip_address")),
        key=lambda x: x.floating_ip_address))
    routes = tuple(Route(destination=r["destination"], nexthop=r["nexthop"]) for r in inp.router.get("routes", []))
    return RouterIntent(router_id=inp.router["id"], revision=inp.router.get("revision_number", 0),
                        admin_state_up=bool(inp.router.get("admin_state_up", True)), interfaces=tuple(itfs),
                        gateway=gateway, routes=routes, floating_ips=fips, firewall_groups=inp.firewall_groups)


def compile_router(inp: RouterInputs | None) -> dict[str, bytes]:
    """The router's one KV entry (or none when it is unscheduled or gone)."""
    if inp is None or not inp.host:
        return {}
    return {router_key(host_token(inp.host), inp.router["id"]): _enc.encode(build_intent(inp))}
