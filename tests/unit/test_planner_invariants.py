"""The three invariants, for every planner, over random desired and observed states.

For each planner (tests/unit/planner_cases.py) and a drawn starting host ``o0``,
desired states ``d1`` and ``d2``, applied through that plane's FakeHost:

1. converges: after applying ``plan(d, o)``, planning again gives ``[]``;
2. re-applying the same ops to the converged host changes nothing;
3. incremental == from scratch: ``o0 -> d1 -> d2`` ends where ``o0 -> d2`` ends
   (up to the planner's ``canonical`` form).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.fakehost import FakeHost
from tests.unit.planner_cases import CASES, Case


def converge(case: Case, d, o):
    host = FakeHost(o, case.apply)
    ops = case.plan(d, o)
    after = host.apply(ops)
    again = case.plan(d, after)
    assert again == [], f"{case.name}: not converged after one pass: {case.describe(again)}"
    assert case.canonical(host.apply(ops)) == case.canonical(after), \
        f"{case.name}: re-applying the same ops changed the host"
    return after


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_planner_invariants(case: Case, data):
    o0 = data.draw(case.observed, label="observed")
    d1 = data.draw(case.desired, label="d1")
    d2 = data.draw(case.desired, label="d2")
    incremental = converge(case, d2, converge(case, d1, o0))
    scratch = converge(case, d2, o0)
    assert case.canonical(incremental) == case.canonical(scratch), f"{case.name}: incremental != from scratch"


def test_every_planner_is_in_the_harness():
    assert {c.name for c in CASES} >= {"ovs", "linuxbridge", "sg-ovs", "sg-linuxbridge", "l3", "dhcp",
                                       "lb-haproxy", "vpn", "fw"}
