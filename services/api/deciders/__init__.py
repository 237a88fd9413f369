"""Pure deciders: (request, current state) -> a Plan of events to publish.

A decider never talks to NATS or SQLite: the handler gives it the state it read
(with the sequences it saw) and publishes what it returns. Every allocation (ids,
addresses, MACs, segment ids) is made here and recorded in the events.
"""

from __future__ import annotations

from netledger.libs.events.base import Struct
from netledger.libs.events.envelope import AnyEvent


class Publication(Struct, frozen=True, kw_only=True):
    """One event for one subject, with the optimistic-concurrency check it needs."""

    subject: str
    kind: str
    aggregate_id: str
    event: AnyEvent
    step: str
    expect_seq: int | None = None
    expect_subject: str | None = None
    # Claims we chose ourselves may be re-chosen on a lost race; requested ones may not.
    chosen: bool = False


class Plan(Struct, frozen=True, kw_only=True):
    """Claims first (unique indexes), then the facts, then releases of old claims."""

    claims: tuple[Publication, ...] = ()
    facts: tuple[Publication, ...] = ()
    releases: tuple[Publication, ...] = ()
    resource_id: str = ""
