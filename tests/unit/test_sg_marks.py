"""Per-port mark slots (pure): unique on a host, a function of the set of filtered ports
only (order, history and duplicates do not matter), stable for a port whose preferred
slot nobody else wants, collisions resolved by probing in sorted order, capacity, and
the nft expressions that write and match the two fields."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
import pytest

from netledger.services.l2.sg import marks

# crc32 % 4095 + 1 puts both at 2626; p6004 prefers 2627, the slot p28 probes into
A, B, NEXT = "p11", "p28", "p6004"


def test_the_chosen_ids_collide_as_the_tests_below_assume():
    assert marks.preferred_slot(A) == marks.preferred_slot(B) == 2626
    assert marks.preferred_slot(NEXT) == 2627


def test_layout_leaves_the_low_byte_alone():
    assert (marks.OUT_MASK, marks.IN_MASK, marks.KEEP) == (0xFFF00000, 0x000FFF00, 0x000000FF)
    assert marks.SLOTS == 4095


def test_no_collision_every_port_gets_its_preferred_slot():
    ids = ["p0", "p1", "p2", "p3"]
    assert marks.assign_slots(ids) == {p: marks.preferred_slot(p) for p in ids}


def test_a_collision_is_resolved_by_probing_in_sorted_order():
    assert marks.assign_slots([B, A]) == {A: 2626, B: 2627}, "p11 sorts first and keeps 2626"
    # the probe chain: p28 takes 2627, so p6004, which wanted 2627, moves on to 2628
    assert marks.assign_slots([NEXT, B, A]) == {A: 2626, B: 2627, NEXT: 2628}
    # without p11 nobody competes any more: both are back at their preferred slots
    assert marks.assign_slots([NEXT, B]) == {B: 2626, NEXT: 2627}


def test_probing_wraps_around_and_capacity_is_respected():
    assert marks.assign_slots(["a", "b", "c"], slots=3).keys() == {"a", "b", "c"}
    assert sorted(marks.assign_slots(["a", "b", "c"], slots=3).values()) == [1, 2, 3]
    got = marks.assign_slots(["a", "b", "c", "d"], slots=3)
    assert list(got) == ["a", "b", "c"], "past the capacity the last ids (sorted) get no slot"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="abcdef0123", min_size=1, max_size=4), max_size=12),
       st.integers(min_value=1, max_value=16), st.randoms(use_true_random=False))
def test_unique_in_range_and_a_function_of_the_set(ids, slots, rnd):
    got = marks.assign_slots(ids, slots=slots)
    assert len(set(got.values())) == len(got) == min(len(set(ids)), slots)
    assert all(1 <= s <= slots for s in got.values())
    shuffled = ids + ids[:3]
    rnd.shuffle(shuffled)
    assert marks.assign_slots(shuffled, slots=slots) == got, "order and duplicates change nothing"
    preferred = {p: marks.preferred_slot(p, slots) for p in set(ids)}
    if len(set(preferred.values())) == len(preferred):
        assert got == preferred, "no contest: nobody probes, every port has its preferred slot"


def test_the_expressions_write_and_match_each_field_and_keep_the_rest():
    assert marks.set_from_port(5) == "meta mark set meta mark & 0x000000ff | 0x00500000"
    assert marks.set_to_port(5) == "meta mark set meta mark & 0xfff000ff | 0x00000500"
    assert marks.from_port(4095) == "meta mark & 0xfff00000 == 0xfff00000"
    assert marks.to_port(1) == "meta mark & 0x000fff00 == 0x00000100"
    assert marks.clear() == "meta mark set meta mark & 0x000000ff"
    for bad in (0, 4096, -1):
        with pytest.raises(ValueError):
            marks.from_port(bad)
