"""Rows -> the LB intent of one load balancer on its scheduled host (pure).

An unscheduled load balancer (or one whose VIP port is gone) compiles to nothing:
its key is deleted and no worker runs it. The VIP is read from the port's row, so
the intent names a real port with the address and MAC it holds. Equal inputs give
byte-equal values, so publishing is idempotent (compile_l2.diff).
"""

from __future__ import annotations

import ipaddress

import msgspec

from netledger.libs.events.base import Struct
from netledger.libs.events.octavia import LbIntent, LbState, VipPort, lb_key
from netledger.libs.events.subjects import host_token

_enc = msgspec.json.Encoder()


class LbInputs(Struct, frozen=True, kw_only=True):
    state: LbState
    vip_port: dict | None = None       # the VIP port's body
    vip_subnet: dict | None = None     # the subnet of its first address
    mtu: int = 1450


def build_intent(inp: LbInputs) -> LbIntent | None:
    port, sub = inp.vip_port, inp.vip_subnet
    if port is None or sub is None or not port.get("fixed_ips"):
        return None
    ip = next((f["ip_address"] for f in port["fixed_ips"] if f["subnet_id"] == sub["id"]), None)
    if ip is None:
        return None
    plen = ipaddress.ip_network(sub["cidr"]).prefixlen
    vip = VipPort(port_id=port["id"], network_id=port["network_id"], mac_address=port["mac_address"],
                  cidr=f"{ip}/{plen}", gateway_ip=sub.get("gateway_ip") or "", mtu=inp.mtu)
    return LbIntent(lb_id=inp.state.lb.id, revision=inp.state.revision, vip=vip, state=inp.state)


def compile_lb(inp: LbInputs | None) -> dict[str, bytes]:
    """The LB's one KV entry on its host (or none)."""
    if inp is None or not inp.state.host:
        return {}
    intent = build_intent(inp)
    if intent is None:
        return {}
    return {lb_key(host_token(inp.state.host), intent.lb_id): _enc.encode(intent)}
