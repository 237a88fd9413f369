"""Quota deciders (pure): limits, and which usage slots a create claims.

A project may hold at most ``limit`` units of a resource because every new unit
claims one slot ``k < limit - (slots still held at or above the limit)`` (a claim
subject per slot, claimed with its expected last sequence; slots above the limit
exist only after the limit was lowered). Invariants: two creators can never hold the same slot; a slot held by an
owner that no longer exists (a crash between claim and create, a release that never
landed) is free again after ``grace`` seconds and is taken over with the same
sequence check; a retried request reuses the slot its owner already holds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from netledger.errors import BadRequest, Conflict
from netledger.libs.events.quota import QuotaSlotClaimed, QuotaSlotReleased
from netledger.libs.events.subjects import host_token

from . import Publication

RESOURCES = ("network", "subnet", "port", "router", "floatingip", "security_group", "security_group_rule",
             "rbac_policy")
UNLIMITED = -1
# With no limit, candidates are the lowest free slots plus this much room, so that
# racing creators pick different slots most of the time.
SPREAD = 64


@dataclass(frozen=True)
class Slot:
    owner: str
    held: bool
    seq: int
    age: float      # seconds since the slot's last message


def over_quota(resource: str) -> Conflict:
    return Conflict(f"Quota exceeded for resources: ['{resource}'].", type="OverQuota")


def slot_subject(prefix: str, project: str, resource: str, slot: int) -> str:
    return f"{prefix}.claim.quota.{host_token(project) or '-'}.{resource}.{slot}"


def effective_limits(defaults: dict[str, int], overrides: dict[str, int]) -> dict[str, int]:
    return {r: overrides.get(r, defaults[r]) for r in defaults}


def validate_limits(body, known: tuple[str, ...]) -> dict[str, int]:
    """``{"quota": {"port": 10}}`` -> {"port": 10}; Neutron's 400s for the rest."""
    given = body.get("quota") if isinstance(body, dict) else None
    if not isinstance(given, dict) or not given:
        raise BadRequest("Unable to find 'quota' in request body")
    out = {}
    for name, value in given.items():
        if name not in known:
            raise BadRequest(f"Unrecognized attribute(s) '{name}'")
        if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).lstrip("-").isdigit():
            raise BadRequest(f"Invalid input for {name}. Reason: '{value}' is not an integer.", type="InvalidInput")
        if int(value) < UNLIMITED:
            raise BadRequest(f"Invalid input for {name}. Reason: '{value}' should be greater than or equal "
                             "to -1.", type="InvalidInput")
        out[name] = int(value)
    return out


def free_slot(slot: Slot | None, alive: set[str], grace: float) -> bool:
    return slot is None or not slot.held or (slot.owner not in alive and slot.age >= grace)


def choose_slots(*, prefix: str, project: str, resource: str, owners: list[str], limit: int,
                 slots: dict[int, Slot], alive: set[str], grace: float, rng: random.Random,
                 unslotted: int = 0) -> list[Publication]:
    """Claims giving each owner one slot (owners already holding one get none).

    ``unslotted``: resources that exist without a slot (made while the limit was
    unlimited, or internally such as gateway ports); they use up room too."""
    holding = {s.owner for s in slots.values() if s.held}
    needed = [o for o in owners if o not in holding]
    if not needed:
        return []
    if limit == UNLIMITED:
        top = len(slots) + len(needed) + SPREAD
    else:
        # Slots at or above the limit (held since a higher limit) shrink the usable
        # range: creators with the same view pick inside [0, top), so used <= limit.
        # A stale view sees at least as many of them (they are only ever released
        # while the limit stands), so it only errs on the safe side.
        high = sum(1 for k, s in slots.items() if k >= limit and not free_slot(s, alive, grace))
        top = max(0, limit - high - max(0, unslotted))
    free = [k for k in range(top) if free_slot(slots.get(k), alive, grace)]
    if len(free) < len(needed):
        raise over_quota(resource)
    picks = rng.sample(free, len(needed))
    return [Publication(subject=slot_subject(prefix, project, resource, k), kind="quota", aggregate_id=owner,
                        step=f"claim-quota-{resource}-{k}", chosen=True,
                        event=QuotaSlotClaimed(project_id=project, resource=resource, slot=k, owner=owner),
                        expect_seq=slots[k].seq if k in slots else 0)
            for k, owner in zip(sorted(picks), needed)]


def release_slots(*, prefix: str, project: str, resource: str, owners: set[str],
                  slots: dict[int, Slot]) -> list[Publication]:
    """Releases of the slots these owners hold (each expects the slot's own sequence,
    so it can never free a slot someone else took over meanwhile)."""
    return [Publication(subject=slot_subject(prefix, project, resource, k), kind="quota", aggregate_id=s.owner,
                        step=f"release-quota-{resource}-{k}", expect_seq=s.seq,
                        event=QuotaSlotReleased(project_id=project, resource=resource, slot=k, owner=s.owner))
            for k, s in sorted(slots.items()) if s.held and s.owner in owners]


def release_of(claim: Publication, seq: int) -> Publication:
    """The release of a slot claim this request won (expects the claim's sequence)."""
    ev = claim.event
    return Publication(subject=claim.subject, kind="quota", aggregate_id=claim.aggregate_id,
                       step=claim.step.replace("claim-", "release-", 1), expect_seq=seq,
                       event=QuotaSlotReleased(project_id=ev.project_id, resource=ev.resource, slot=ev.slot,
                                               owner=ev.owner))
