"""What to do for one load balancer: desired intent vs the observed host (pure).

Plans against what is really there (namespace, VIP port and addresses, the config
text on disk, whether our HAProxy runs), so restarts and hand edits are harmless.
Deletes come before adds; ``[]`` means converged. A changed config is one
``WriteConfig`` (the driver validates it with ``haproxy -c`` before it replaces the
old file) followed by a hitless ``-sf`` reload, or a start when nothing runs. HAProxy
refuses to run without a listener, so an LB without enabled listeners (or admin
down) keeps its namespace and VIP but runs no process.
"""

from __future__ import annotations

import ipaddress

from netledger.libs.events import octavia as O
from netledger.libs.events.base import Struct

from .config import LbConfig, vip_link
from .render_haproxy import render


class Seen(Struct, frozen=True, kw_only=True):
    lb_id: str
    netns_exists: bool = False
    ovs_port: bool = False          # our internal port is on br-int
    ovs_name: str = ""
    link_in_ns: bool = False
    mac: str = ""
    mtu: int = 0
    up: bool = False
    cidrs: frozenset[str] = frozenset()
    gateway: str = ""               # the namespace's default route
    config: str | None = None       # haproxy.cfg as on disk
    running: bool = False           # our HAProxy (pidfile, cmdline names our config)
    dir_exists: bool = False


class Op(Struct, frozen=True, kw_only=True, tag_field="op", tag=True):
    lb_id: str


class StopHaproxy(Op, frozen=True, kw_only=True): pass
class DelVipPort(Op, frozen=True, kw_only=True): name: str
class DelNetns(Op, frozen=True, kw_only=True): pass
class RemoveDir(Op, frozen=True, kw_only=True): pass
class AddNetns(Op, frozen=True, kw_only=True): pass
class AddVipPort(Op, frozen=True, kw_only=True): name: str; port_id: str; mac: str
class MoveVip(Op, frozen=True, kw_only=True): name: str
class SetVipLink(Op, frozen=True, kw_only=True): name: str; mac: str; mtu: int
class DelAddr(Op, frozen=True, kw_only=True): name: str; cidr: str
class AddAddr(Op, frozen=True, kw_only=True): name: str; cidr: str
class SetGateway(Op, frozen=True, kw_only=True): gateway: str
class WriteConfig(Op, frozen=True, kw_only=True): text: str
class StartHaproxy(Op, frozen=True, kw_only=True): pass
class ReloadHaproxy(Op, frozen=True, kw_only=True): pass


def should_run(intent: O.LbIntent) -> bool:
    s = intent.state
    return s.lb.admin_state_up and any(li.admin_state_up for li in s.listeners)


def plan(intent: O.LbIntent | None, seen: Seen, cfg: LbConfig) -> list[Op]:
    lb = seen.lb_id
    if intent is None:
        ops: list[Op] = [StopHaproxy(lb_id=lb)] if seen.running else []
        if seen.ovs_port:
            ops.append(DelVipPort(lb_id=lb, name=seen.ovs_name))
        if seen.netns_exists:
            ops.append(DelNetns(lb_id=lb))
        if seen.dir_exists:
            ops.append(RemoveDir(lb_id=lb))
        return ops
    return _network(intent, seen) + _haproxy(intent, seen, cfg)


def _network(intent: O.LbIntent, seen: Seen) -> list[Op]:
    lb, vip, name = intent.lb_id, intent.vip, vip_link(intent.vip.port_id)
    ops: list[Op] = [] if seen.netns_exists else [AddNetns(lb_id=lb)]
    if not seen.ovs_port:
        ops.append(AddVipPort(lb_id=lb, name=name, port_id=vip.port_id, mac=vip.mac_address))
    if not seen.link_in_ns:
        ops.append(MoveVip(lb_id=lb, name=name))
    if not seen.link_in_ns or (seen.mac, seen.mtu, seen.up) != (vip.mac_address, vip.mtu, True):
        ops.append(SetVipLink(lb_id=lb, name=name, mac=vip.mac_address, mtu=vip.mtu))
    have = seen.cidrs if seen.link_in_ns else frozenset()
    ops += [DelAddr(lb_id=lb, name=name, cidr=c) for c in sorted(have - {vip.cidr})]
    if vip.cidr not in have:
        ops.append(AddAddr(lb_id=lb, name=name, cidr=vip.cidr))
    gw = vip.gateway_ip
    if gw and ipaddress.ip_address(gw) in ipaddress.ip_network(vip.cidr, strict=False) and seen.gateway != gw:
        ops.append(SetGateway(lb_id=lb, gateway=gw))
    return ops


def _haproxy(intent: O.LbIntent, seen: Seen, cfg: LbConfig) -> list[Op]:
    lb = intent.lb_id
    text = render(intent, cfg.dir(lb))
    ops: list[Op] = [] if seen.config == text else [WriteConfig(lb_id=lb, text=text)]
    if not should_run(intent):
        return ops + ([StopHaproxy(lb_id=lb)] if seen.running else [])
    if not seen.running:
        return ops + [StartHaproxy(lb_id=lb)]
    return ops + ([ReloadHaproxy(lb_id=lb)] if ops else [])
