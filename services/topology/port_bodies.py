"""Decoded port rows for the after-commit publishers, decoded again only when they change.

The L2, DHCP and security-group publishers recompile from the projection after every
folded batch; decoding every port's JSON body each time was most of the topology
service's CPU (and the API waits for that loop to read its own writes). A port row's
``seq`` is the stream position of the last event that changed it, so (id, seq) says
whether a cached body is still current. Bodies are shared: callers must not mutate them.
"""

from __future__ import annotations

import sqlite3

import msgspec

_decode = msgspec.json.Decoder().decode


class PortBodies:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.rows: dict[str, tuple[int, dict]] = {}   # port id -> (seq, body)

    def of_network(self, network_id: str) -> list[dict]:
        return self._bodies("SELECT id, seq FROM ports WHERE network_id = ?", [network_id])

    def by_ids(self, ids: list[str]) -> dict[str, tuple[int, dict]]:
        """Current (seq, body) of these ports (absent: deleted), read afresh."""
        out = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            marks = ",".join("?" * len(part))
            for pid, seq, body in self.conn.execute(f"SELECT id, seq, body FROM ports WHERE id IN ({marks})", part):
                hit = self.rows.get(pid)
                self.rows[pid] = out[pid] = hit if hit is not None and hit[0] == seq else (seq, _decode(body))
        return out

    def _bodies(self, sql: str, args: list) -> list[dict]:
        listed = self.conn.execute(sql, args).fetchall()
        stale = [pid for pid, seq in listed if self.rows.get(pid, (None,))[0] != seq]
        for chunk in range(0, len(stale), 500):
            ids = stale[chunk:chunk + 500]
            marks = ",".join("?" * len(ids))
            for pid, seq, body in self.conn.execute(f"SELECT id, seq, body FROM ports WHERE id IN ({marks})", ids):
                self.rows[pid] = (seq, _decode(body))
        # A row deleted between the two queries is simply left out.
        return [self.rows[pid][1] for pid, _ in listed if pid in self.rows]
