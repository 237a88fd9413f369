"""A fake load-balancer host: namespace, VIP port, haproxy.cfg and HAProxy process
after each op, as services/advanced/lb/driver_haproxy.py leaves them (pure)."""

from __future__ import annotations

import msgspec

from netledger.services.advanced.lb import plan as P


def apply(s: P.Seen, ops: list[P.Op]) -> P.Seen:
    for op in ops:
        s = _one(s, op)
    return s


def _one(s: P.Seen, op: P.Op) -> P.Seen:  # noqa: C901 - one case per op
    r = msgspec.structs.replace
    match op:
        case P.StopHaproxy():
            return r(s, running=False)
        case P.DelVipPort():
            return r(s, ovs_port=False, ovs_name="", link_in_ns=False, mac="", mtu=0, up=False,
                     cidrs=frozenset(), gateway="")
        case P.DelNetns():
            return r(s, netns_exists=False, link_in_ns=False, mac="", mtu=0, up=False, cidrs=frozenset(),
                     gateway="", running=False)
        case P.RemoveDir():
            return r(s, dir_exists=False, config=None)
        case P.AddNetns():
            return r(s, netns_exists=True)
        case P.AddVipPort():
            return r(s, ovs_port=True, ovs_name=op.name)
        case P.MoveVip():
            assert s.netns_exists and s.ovs_port, "the VIP moves into an existing namespace"
            return r(s, link_in_ns=True)
        case P.SetVipLink():
            assert s.link_in_ns
            return r(s, mac=op.mac, mtu=op.mtu, up=True)
        case P.AddAddr():
            return r(s, cidrs=s.cidrs | {op.cidr})
        case P.DelAddr():
            return r(s, cidrs=s.cidrs - {op.cidr})
        case P.SetGateway():
            assert any(True for _ in s.cidrs), "a default route needs an address on the link"
            return r(s, gateway=op.gateway)
        case P.WriteConfig():
            return r(s, config=op.text, dir_exists=True)
        case P.StartHaproxy():
            assert s.config is not None and s.netns_exists
            return r(s, running=True)
        case P.ReloadHaproxy():
            assert s.running
            return s
    raise TypeError(f"unknown op {op!r}")
