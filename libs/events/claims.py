"""Unique-index claims: one subject per address / MAC / segment id.

A claim is published with ``Nats-Expected-Last-Subject-Sequence`` equal to the last
sequence seen on that subject (0 = never claimed), so two allocators racing for the
same value cannot both win. Claims are owned by the resource that uses them; a claim
whose owner never appeared (a crash between claim and create) is released by the
janitor after a grace period.
"""

from __future__ import annotations

from .base import Event


class IpClaimed(Event, tag="IpClaimed", frozen=True, kw_only=True):
    subnet_id: str
    ip_address: str
    owner: str


class IpReleased(Event, tag="IpReleased", frozen=True, kw_only=True):
    subnet_id: str
    ip_address: str
    owner: str


class MacClaimed(Event, tag="MacClaimed", frozen=True, kw_only=True):
    network_id: str
    mac_address: str
    owner: str


class MacReleased(Event, tag="MacReleased", frozen=True, kw_only=True):
    network_id: str
    mac_address: str
    owner: str


class SegmentClaimed(Event, tag="SegmentClaimed", frozen=True, kw_only=True):
    network_type: str
    physical_network: str | None = None
    segmentation_id: int
    owner: str


class SegmentReleased(Event, tag="SegmentReleased", frozen=True, kw_only=True):
    network_type: str
    physical_network: str | None = None
    segmentation_id: int
    owner: str
