"""The API process's collaborators, built once at start-up."""

from __future__ import annotations

import random
from dataclasses import dataclass

from netledger.config import Config
from netledger.libs.bus import Bus

from .auth.policy import Policy
from .claims_view import ReaderAgents, ReaderClaims
from .deciders.segments import SegmentConfig
from .position import Position
from .store import Reader
from .writer import Writer


@dataclass
class Services:
    cfg: Config
    bus: Bus
    reader: Reader
    position: Position
    writer: Writer
    claims: ReaderClaims
    agents: ReaderAgents
    segcfg: SegmentConfig
    rng: random.Random
    policy: Policy | None = None   # set by make_app from the Auth it builds

    @property
    def subjects(self):
        return self.bus.subjects

    def held_segments(self, network_type: str, physnet: str) -> "ClaimedSegments":
        return ClaimedSegments(self.reader.conn, network_type, physnet or "")

    def segment_claims_of(self, network_id: str):
        from netledger.libs.events.network import Segment

        rows = self.reader.conn.execute(
            "SELECT network_type, physical_network, segmentation_id, seq FROM segment_claims "
            "WHERE owner = ? AND held = 1", [network_id])
        return [(Segment(network_type=r[0], physical_network=r[1] or None, segmentation_id=r[2]), r[3])
                for r in rows]


class ClaimedSegments:
    """HeldSegments read from the projection's segment_claims (primary key range scans)."""

    _WHERE = "FROM segment_claims WHERE network_type = ? AND physical_network = ?"

    def __init__(self, conn, network_type: str, physnet: str) -> None:
        self.conn, self.key = conn, [network_type, physnet]

    def states(self, ids: list[int]) -> dict[int, tuple[bool, int]]:
        ids = sorted(set(ids))
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(f"SELECT segmentation_id, held, seq {self._WHERE} AND segmentation_id IN ({marks})",
                                 [*self.key, *ids])
        return {r[0]: (bool(r[1]), r[2]) for r in rows}

    def held_count(self, lo: int, hi: int) -> int:
        return self.conn.execute(f"SELECT count(*) {self._WHERE} AND held = 1 AND segmentation_id BETWEEN ? AND ?",
                                 [*self.key, lo, hi]).fetchone()[0]

    def held_ids(self, lo: int, hi: int) -> set[int]:
        return {r[0] for r in self.conn.execute(
            f"SELECT segmentation_id {self._WHERE} AND held = 1 AND segmentation_id BETWEEN ? AND ?",
            [*self.key, lo, hi])}
