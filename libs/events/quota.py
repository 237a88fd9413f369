"""Quota facts: per-project limits, and usage slots (the race-free counter).

Limits: ``<prefix>.evt.quota.<project>`` carries QuotaLimitsSet / QuotaLimitsReset.
Usage: one claim subject per unit, ``<prefix>.claim.quota.<project>.<resource>.<k>``
for slot k < limit. Creating a resource first claims a free slot with
expected-last-subject-sequence (like an address claim), so N racing creators can
hold at most ``limit`` slots however many API processes they go through; deleting
the resource releases its slot.
"""

from __future__ import annotations

from .base import Event


class QuotaLimitsSet(Event, tag="QuotaLimitsSet", frozen=True, kw_only=True):
    """The limits given in one update (resources not named keep theirs)."""

    project_id: str
    limits: dict[str, int]


class QuotaLimitsReset(Event, tag="QuotaLimitsReset", frozen=True, kw_only=True):
    """Back to the configured defaults (Neutron's quota delete)."""

    project_id: str


class QuotaSlotClaimed(Event, tag="QuotaSlotClaimed", frozen=True, kw_only=True):
    project_id: str
    resource: str
    slot: int
    owner: str


class QuotaSlotReleased(Event, tag="QuotaSlotReleased", frozen=True, kw_only=True):
    project_id: str
    resource: str
    slot: int
    owner: str


EVENTS = (QuotaLimitsSet, QuotaLimitsReset, QuotaSlotClaimed, QuotaSlotReleased)
