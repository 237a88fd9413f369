"""The SQLite projection: schema, applying writes, and the stream checkpoint.

Writes of a batch and the new stream position commit in one transaction, so a crash
can never leave rows ahead of (or behind) the recorded position.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable

import sqlite_utils

from .evolve import Delete, Put, Write

SCHEMA: dict[str, tuple[dict, list[str]]] = {
    # table: (columns, primary key)
    "networks": ({"id": str, "project_id": str, "body": str, "seq": int, "tree_seq": int}, ["id"]),
    "subnets": ({"id": str, "project_id": str, "network_id": str, "cidr": str, "body": str, "seq": int,
                 "created_seq": int}, ["id"]),
    "ports": ({"id": str, "project_id": str, "network_id": str, "device_id": str, "host": str,
               "mac_address": str, "body": str, "seq": int}, ["id"]),
    "ip_claims": ({"subnet_id": str, "ip_address": str, "owner": str, "held": int, "seq": int, "time": str},
                  ["subnet_id", "ip_address"]),
    "mac_claims": ({"network_id": str, "mac_address": str, "owner": str, "held": int, "seq": int, "time": str},
                   ["network_id", "mac_address"]),
    "segment_claims": ({"network_type": str, "physical_network": str, "segmentation_id": int, "owner": str,
                        "held": int, "seq": int, "time": str},
                       ["network_type", "physical_network", "segmentation_id"]),
    "port_status": ({"port_id": str, "block": str, "host": str, "status": str, "revision_number": int,
                     "time": str, "seq": int}, ["port_id", "block"]),
    "agents": ({"id": str, "host": str, "agent_type": str, "binary": str, "body": str,
                "last_heartbeat": str, "seq": int}, ["id"]),
    "checkpoint": ({"stream": str, "seq": int}, ["stream"]),
}
INDEXES = {
    "subnets": [["network_id"]],
    "ports": [["network_id"], ["device_id"], ["host"], ["project_id"]],
    "ip_claims": [["owner"]],
    "mac_claims": [["owner"]],
    "networks": [["project_id"]],
}
# Views give the API its bodies with derived attributes filled in.
VIEWS = {
    "networks_v": """
        SELECT n.id, n.project_id, n.seq, n.tree_seq, json_set(n.body, '$.subnets',
          (SELECT json_group_array(s.id) FROM (SELECT id FROM subnets WHERE network_id = n.id
           ORDER BY created_seq) s)) AS body FROM networks n""",
    "subnets_v": "SELECT id, project_id, network_id, seq, body FROM subnets",
    # Provisioning blocks (Neutron's): ACTIVE needs the l2 block ACTIVE and, when a DHCP
    # agent serves the network and the port has an address on a DHCP-enabled subnet
    # (and is not the DHCP port itself), the dhcp block ACTIVE too.
    "ports_v": """
        SELECT p.id, p.project_id, p.network_id, p.seq, json_set(p.body, '$.status',
          CASE WHEN json_extract(p.body, '$.admin_state_up') = 0 THEN 'DOWN'
               WHEN json_extract(p.body, '$.device_owner') != 'network:dhcp'
                AND EXISTS (SELECT 1 FROM dhcp_bindings b WHERE b.id = p.network_id AND b.host != '')
                AND EXISTS (SELECT 1 FROM json_each(json_extract(p.body, '$.fixed_ips')) f, subnets sn
                            WHERE sn.id = json_extract(f.value, '$.subnet_id')
                              AND json_extract(sn.body, '$.enable_dhcp') = 1)
                AND NOT EXISTS (SELECT 1 FROM port_status d WHERE d.port_id = p.id AND d.block = 'dhcp'
                                AND d.status = 'ACTIVE') THEN 'DOWN'
               ELSE COALESCE((SELECT s.status FROM port_status s WHERE s.port_id = p.id AND s.block = 'l2'
                              AND s.host = p.host), 'DOWN') END) AS body FROM ports p""",
}


def _merge_families() -> None:
    """Tables, indexes and views declared by resource-family fold modules."""
    from .evolve.families import family_modules

    for module in family_modules():
        SCHEMA.update(getattr(module, "SCHEMA", {}))
        INDEXES.update(getattr(module, "INDEXES", {}))
        VIEWS.update(getattr(module, "VIEWS", {}))


_merge_families()


def open_db(path: str, *, readonly: bool = False) -> sqlite_utils.Database:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    # busy_timeout first: switching to WAL needs a lock another process may hold.
    conn.execute("PRAGMA busy_timeout=10000")
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return sqlite_utils.Database(conn)


def create_schema(db: sqlite_utils.Database) -> None:
    """Idempotent, and serialised by one write transaction: the API and topology may
    both run it against a fresh database at the same moment."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        for name, (cols, pk) in SCHEMA.items():
            if not db[name].exists():
                db[name].create(cols, pk=pk[0] if len(pk) == 1 else tuple(pk))
        for name, idx_list in INDEXES.items():
            for cols in idx_list:
                db[name].create_index(cols, if_not_exists=True)
        for name, sql in VIEWS.items():
            db.conn.execute(f"DROP VIEW IF EXISTS {name}")
            db.conn.execute(f"CREATE VIEW {name} AS {sql}")
        db.conn.execute("COMMIT")
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise


def position(db: sqlite_utils.Database, stream: str) -> int:
    row = db.execute("SELECT seq FROM checkpoint WHERE stream = ?", [stream]).fetchone()
    return row[0] if row else 0


class Projection:
    """Applies row writes; reads rows for the folds (inside the open transaction)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.conn = db.conn
        self.conn.row_factory = sqlite3.Row

    def read(self, table: str, id: str) -> dict | None:
        row = self.conn.execute(f"SELECT * FROM {table} WHERE id = ?", [id]).fetchone()
        return dict(row) if row else None

    def apply(self, writes: Iterable[Write]) -> None:
        for w in writes:
            if isinstance(w, Put):
                cols = list(w.row)
                self.conn.execute(
                    f"INSERT OR REPLACE INTO {w.table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    [w.row[c] for c in cols])
            elif isinstance(w, Delete):
                where = " AND ".join(f"{k} = ?" for k in w.key)
                self.conn.execute(f"DELETE FROM {w.table} WHERE {where}", list(w.key.values()))

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self, stream: str, seq: int) -> None:
        self.conn.execute("INSERT OR REPLACE INTO checkpoint (stream, seq) VALUES (?, ?)", [stream, seq])
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        self.conn.execute("ROLLBACK")
