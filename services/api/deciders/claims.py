"""Claims a request already won (pure): reuse them, release what the outcome doesn't use.

A request may lose a race after winning some claims (an address won, the MAC lost).
The next decision must reuse what it holds rather than pick new values, and whatever
it ends up not using (or everything, when the request fails before its facts land)
must be released, or it stays held until the janitor's grace period ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netledger.libs.events.base import Struct
from netledger.libs.events.claims import (
    IpClaimed,
    IpReleased,
    MacClaimed,
    MacReleased,
    SegmentClaimed,
    SegmentReleased,
)

from netledger.libs.events.quota import QuotaSlotClaimed, QuotaSlotReleased

from . import Publication


class Won(Struct, frozen=True, kw_only=True):
    """A claim this request published successfully, with the sequence it got."""

    pub: Publication
    seq: int


class Ledger:
    """Claims won by one request (subject -> Won), across its retries.

    ``committed`` turns true just before the facts are published: from then on the
    claims may be in use by a resource and only the janitor (which checks) frees them.
    """

    def __init__(self) -> None:
        self.won: dict[str, Won] = {}
        self.committed = False

    def record(self, pub: Publication, seq: int) -> None:
        self.won[pub.subject] = Won(pub=pub, seq=seq)

    def releases(self) -> list[Publication]:
        """Releases for everything won (a request that failed before its facts)."""
        return [release_of(w) for w in self.won.values()]


def release_of(won: Won) -> Publication:
    """The release matching a won claim; expects the claim's own sequence, so it can
    never free a value someone else claimed since."""
    ev = won.pub.event
    if isinstance(ev, IpClaimed):
        rel = IpReleased(subnet_id=ev.subnet_id, ip_address=ev.ip_address, owner=ev.owner)
    elif isinstance(ev, MacClaimed):
        rel = MacReleased(network_id=ev.network_id, mac_address=ev.mac_address, owner=ev.owner)
    elif isinstance(ev, SegmentClaimed):
        rel = SegmentReleased(network_type=ev.network_type, physical_network=ev.physical_network,
                              segmentation_id=ev.segmentation_id, owner=ev.owner)
    elif isinstance(ev, QuotaSlotClaimed):
        rel = QuotaSlotReleased(project_id=ev.project_id, resource=ev.resource, slot=ev.slot, owner=ev.owner)
        return Publication(subject=won.pub.subject, kind="quota", aggregate_id=won.pub.aggregate_id,
                           step=won.pub.step.replace("claim-", "release-", 1), event=rel, expect_seq=won.seq)
    else:
        raise TypeError(f"not a claim: {type(ev).__name__}")
    return Publication(subject=won.pub.subject, kind="claim", aggregate_id=won.pub.aggregate_id,
                       step=won.pub.step.replace("claim-", "unclaim-", 1), event=rel, expect_seq=won.seq)


class OwnClaims:
    """The won claims of one owner (a port id), as a decider consults them."""

    def __init__(self, won: Mapping[str, Won] | None, owner: str) -> None:
        self.items = [w for w in (won or {}).values() if w.pub.aggregate_id == owner]

    def subjects(self) -> set[str]:
        return {w.pub.subject for w in self.items}

    def ip_in(self, subnet_id: str, taken: Iterable[str]) -> str | None:
        """An address already won on this subnet and not yet used by this decision."""
        skip = set(taken)
        for w in self.items:
            ev = w.pub.event
            if isinstance(ev, IpClaimed) and ev.subnet_id == subnet_id and ev.ip_address not in skip:
                return ev.ip_address
        return None

    def mac_on(self, network_id: str) -> str | None:
        for w in self.items:
            ev = w.pub.event
            if isinstance(ev, MacClaimed) and ev.network_id == network_id:
                return ev.mac_address
        return None

    def unused(self, used_subjects: set[str]) -> list[Publication]:
        """Releases for won claims the decision does not use."""
        return [release_of(w) for w in self.items if w.pub.subject not in used_subjects]
