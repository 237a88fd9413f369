"""FakeHost: an in-memory host that planners' ops are applied to (tests only).

Each plane has its ``apply(state, ops) -> state`` written from what the driver does
on a real host: ``l3``, ``vpn``, ``lb`` and ``dhcp`` here; the L2 planes use their
simulators in services/l2/*/sim.py (the mechanisms use them to predict statuses).
``FakeHost`` holds one state and counts what was applied, so the invariant harness
treats every planner alike.
"""

from __future__ import annotations

from typing import Any, Callable


class FakeHost:
    def __init__(self, state: Any, apply: Callable[[Any, list], Any]) -> None:
        self.state, self._apply, self.applied = state, apply, 0

    def apply(self, ops: list) -> Any:
        self.state = self._apply(self.state, list(ops))
        self.applied += len(ops)
        return self.state
