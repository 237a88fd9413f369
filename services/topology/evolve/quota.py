"""Fold of quota facts: limits per project and the usage slots (pure)."""

from __future__ import annotations

from netledger.libs.events.envelope import Envelope
from netledger.libs.events.quota import QuotaLimitsReset, QuotaLimitsSet, QuotaSlotClaimed, QuotaSlotReleased

from . import Delete, Put, Reader, Write

SCHEMA = {
    "quota_limits": ({"project_id": str, "resource": str, "hard_limit": int, "seq": int},
                     ["project_id", "resource"]),
    # One row per slot ever used: held or not, and the slot subject's last sequence.
    "quota_slots": ({"project_id": str, "resource": str, "slot": int, "owner": str, "held": int,
                     "seq": int, "time": str}, ["project_id", "resource", "slot"]),
}
INDEXES = {"quota_slots": [["owner"]]}


def evolve_quota(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    if isinstance(ev, QuotaLimitsSet):
        return [Put(table="quota_limits", row={"project_id": ev.project_id, "resource": r, "hard_limit": n,
                                               "seq": seq}) for r, n in sorted(ev.limits.items())]
    if isinstance(ev, QuotaLimitsReset):
        return [Delete(table="quota_limits", key={"project_id": ev.project_id})]
    if isinstance(ev, (QuotaSlotClaimed, QuotaSlotReleased)):
        held = isinstance(ev, QuotaSlotClaimed)
        return [Put(table="quota_slots", row={
            "project_id": ev.project_id, "resource": ev.resource, "slot": ev.slot,
            "owner": ev.owner if held else "", "held": int(held), "seq": seq, "time": env.time})]
    return []


FOLDS = {"quota": evolve_quota}
