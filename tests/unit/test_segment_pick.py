"""Tenant segment allocation asks the claims only about what it needs (pure)."""

from __future__ import annotations

import random

import pytest

from netledger.errors import Conflict, ServiceUnavailable
from netledger.services.api.deciders.segments import HeldMap, SegmentConfig, choose_segment


def lookup(claims: dict[int, tuple[bool, int]]):
    return lambda ntype, physnet: HeldMap(claims)


CFG = SegmentConfig(ranges={"vxlan": (10, 14)})


def test_picks_a_free_id_and_returns_its_claim_sequence():
    claims = {10: (True, 3), 11: (True, 4), 12: (False, 9), 13: (True, 5), 14: (True, 6)}
    seg, seq = choose_segment({}, CFG, lookup(claims), random.Random(1))
    assert (seg.network_type, seg.segmentation_id, seq) == ("vxlan", 12, 9)


def test_never_claimed_id_expects_sequence_zero():
    seg, seq = choose_segment({}, CFG, lookup({}), random.Random(2))
    assert 10 <= seg.segmentation_id <= 14 and seq == 0


def test_dense_range_falls_back_to_a_scan():
    claims = {i: (True, i) for i in range(10, 14)}          # only 14 is free
    for seed in range(20):
        seg, seq = choose_segment({}, CFG, lookup(claims), random.Random(seed))
        assert (seg.segmentation_id, seq) == (14, 0)


def test_exhausted_range_is_503():
    claims = {i: (True, i) for i in range(10, 15)}
    with pytest.raises(ServiceUnavailable):
        choose_segment({}, CFG, lookup(claims), random.Random(3))


def test_requested_id_in_use_is_409():
    claims = {12: (True, 7)}
    with pytest.raises(Conflict):
        choose_segment({"provider:network_type": "vxlan", "provider:segmentation_id": 12}, CFG, lookup(claims),
                       random.Random(4))
    seg, seq = choose_segment({"provider:network_type": "vxlan", "provider:segmentation_id": 13}, CFG,
                              lookup(claims), random.Random(4))
    assert (seg.segmentation_id, seq) == (13, 0)
