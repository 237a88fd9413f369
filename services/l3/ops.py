"""Dataplane operations of the L3 worker: frozen values the driver executes in order."""

from __future__ import annotations

import msgspec


class Op(msgspec.Struct, frozen=True, kw_only=True, tag_field="op"):
    pass


class AddNetns(Op, tag="AddNetns", frozen=True, kw_only=True):
    netns: str


class DelNetns(Op, tag="DelNetns", frozen=True, kw_only=True):
    netns: str


class SetForwarding(Op, tag="SetForwarding", frozen=True, kw_only=True):
    netns: str


class AddOvsPort(Op, tag="AddOvsPort", frozen=True, kw_only=True):
    name: str
    port_id: str
    mac: str
    router_id: str


class DelOvsPort(Op, tag="DelOvsPort", frozen=True, kw_only=True):
    name: str


class MoveLink(Op, tag="MoveLink", frozen=True, kw_only=True):
    """From the host namespace (where vswitchd creates internal ports) into the router's."""

    name: str
    netns: str


class SetLink(Op, tag="SetLink", frozen=True, kw_only=True):
    netns: str
    name: str
    mac: str
    mtu: int


class AddAddr(Op, tag="AddAddr", frozen=True, kw_only=True):
    netns: str
    name: str
    cidr: str


class DelAddr(Op, tag="DelAddr", frozen=True, kw_only=True):
    netns: str
    name: str
    cidr: str


class ReplaceRoute(Op, tag="ReplaceRoute", frozen=True, kw_only=True):
    netns: str
    destination: str
    nexthop: str


class DelRoute(Op, tag="DelRoute", frozen=True, kw_only=True):
    netns: str
    destination: str
    nexthop: str


class ReplaceNft(Op, tag="ReplaceNft", frozen=True, kw_only=True):
    netns: str
    text: str


class ClearConntrack(Op, tag="ClearConntrack", frozen=True, kw_only=True):
    """Forget NAT state of a floating IP that went away (old flows must stop too)."""

    netns: str
    address: str


class AnnounceAddr(Op, tag="AnnounceAddr", frozen=True, kw_only=True):
    """Gratuitous ARP: switches and peers learn where the address (and MAC) now is."""

    netns: str
    name: str
    address: str
