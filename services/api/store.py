"""Read side of the API: the topology projection in SQLite, opened read-only.

All API reads go through here (views with derived attributes such as a network's
``subnets`` and a port's ``status``). Project scoping: non-admins see their own
project's rows (and shared networks).
"""

from __future__ import annotations

import sqlite3

import msgspec

from netledger.errors import not_found

from . import query

_decode = msgspec.json.decode


class Reader:
    def __init__(self, path: str) -> None:
        self.path = path
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.conn.row_factory = sqlite3.Row

    def position(self, stream: str = "events") -> int:
        row = self.conn.execute("SELECT seq FROM checkpoint WHERE stream = ?", [stream]).fetchone()
        return row[0] if row else 0

    # --- single rows
    def row(self, view: str, id: str) -> sqlite3.Row | None:
        return self.conn.execute(f"SELECT * FROM {view} WHERE id = ?", [id]).fetchone()

    def get(self, kind: str, id: str, scope: str | None, *, shared_ok: bool = False) -> tuple[dict, int]:
        """(body, seq) of a visible resource, or the Neutron <Kind>NotFound error."""
        row = self.row(f"{kind}s_v", id)
        if row is None:
            raise not_found(kind, id)
        body = _decode(row["body"])
        if scope is None or body.get("project_id") == scope:
            return body, row["seq"]
        if not shared_ok:
            raise not_found(kind, id)
        grants = self.rbac_grants(scope, [id]).get(id, set()) if kind == "network" else set()
        if not body.get("shared") and not grants:
            raise not_found(kind, id)
        return self._shared_view(body, grants), row["seq"]

    def rbac_grants(self, project: str, ids: list[str]) -> dict[str, set[str]]:
        """network id -> RBAC actions granted to ``project`` (directly or by '*')."""
        if not ids:
            return {}
        rows = self.conn.execute(
            f"SELECT object_id, action FROM rbac_policies WHERE target_tenant IN (?, '*') "
            f"AND object_id IN ({','.join('?' * len(ids))})", [project, *ids])
        out: dict[str, set[str]] = {}
        for object_id, action in rows:
            out.setdefault(object_id, set()).add(action)
        return out

    @staticmethod
    def _shared_view(body: dict, actions: set[str]) -> dict:
        """A network as a project it is shared with sees it (Neutron shows ``shared``
        true to a project an access_as_shared policy targets)."""
        if "access_as_shared" in actions:
            body = {**body, "shared": True}
        if "access_as_external" in actions:
            body = {**body, "router:external": True}
        return body

    def network_tree_seq(self, network_id: str) -> int:
        row = self.conn.execute("SELECT tree_seq FROM networks WHERE id = ?", [network_id]).fetchone()
        return row[0] if row else 0

    # --- lists
    def list(self, kind: str, q: query.ListQuery, scope: str | None, *, shared_visible: bool = False,
             changed_since: str | None = None) -> list[dict]:
        extra = []
        if changed_since:
            extra.append(("json_extract(body, '$.updated_at') >= ?", [changed_since]))
        project = scope
        if scope is not None and shared_visible:
            extra.append(("(project_id = ? OR json_extract(body, '$.shared') = 1 OR id IN (SELECT object_id "
                          "FROM rbac_policies WHERE target_tenant IN (?, '*')))", [scope, scope]))
            scope = None
        # execute_list: a marker the caller cannot see is Neutron's 404, not an empty page.
        rows = query.execute_list(self.conn, q, table=f"{kind}s_v", kind=kind, scope_project=scope,
                                  extra_where=extra)
        if project is not None and shared_visible and kind == "network":
            foreign = [r["id"] for r in rows if r.get("id") and r.get("project_id") != project]
            grants = self.rbac_grants(project, foreign)
            rows = [self._shared_view(r, grants[r["id"]]) if r.get("id") in grants else r for r in rows]
        return rows

    def subnets_of(self, network_id: str) -> list[dict]:
        """In creation order: Neutron fills the first subnet of a family with room first."""
        rows = self.conn.execute("SELECT body FROM subnets WHERE network_id = ? "
                                 "ORDER BY created_seq", [network_id])
        return [_decode(r[0]) for r in rows]

    def count_ports(self, network_id: str) -> int:
        return self.conn.execute("SELECT count(*) FROM ports WHERE network_id = ?", [network_id]).fetchone()[0]

    # --- claims (unique indexes)
    def ip_claim(self, subnet_id: str, ip: str) -> tuple[str, int, bool]:
        """(owner, last seq on the claim subject, held) for one address."""
        row = self.conn.execute("SELECT owner, seq, held FROM ip_claims WHERE subnet_id = ? AND ip_address = ?",
                                [subnet_id, ip]).fetchone()
        return (row[0], row[1], bool(row[2])) if row else ("", 0, False)

    def held_ips(self, subnet_id: str, among: list[str] | None = None) -> set[str]:
        sql = "SELECT ip_address FROM ip_claims WHERE subnet_id = ? AND held = 1"
        params: list = [subnet_id]
        if among is not None:
            sql += f" AND ip_address IN ({','.join('?' * len(among))})"
            params += among
        return {r[0] for r in self.conn.execute(sql, params)}

    def count_held_ips(self, subnet_id: str) -> int:
        return self.conn.execute("SELECT count(*) FROM ip_claims WHERE subnet_id = ? AND held = 1",
                                 [subnet_id]).fetchone()[0]

    def ip_claims_head(self, subnet_id: str) -> int:
        """Last sequence on ``claim.ip.<subnet>.>`` (what a subnet delete expects)."""
        row = self.conn.execute("SELECT max(seq) FROM ip_claims WHERE subnet_id = ?", [subnet_id]).fetchone()
        return row[0] or 0

    def mac_claim(self, network_id: str, mac: str) -> tuple[str, int, bool]:
        row = self.conn.execute("SELECT owner, seq, held FROM mac_claims WHERE network_id = ? AND mac_address = ?",
                                [network_id, mac]).fetchone()
        return (row[0], row[1], bool(row[2])) if row else ("", 0, False)

    def mac_claims_head(self, network_id: str) -> tuple[int, int]:
        """(last sequence on ``claim.mac.<net>.>``, number of MACs held) for a network delete."""
        row = self.conn.execute("SELECT max(seq), sum(held) FROM mac_claims WHERE network_id = ?",
                                [network_id]).fetchone()
        return row[0] or 0, row[1] or 0

    def orphan_claims(self, older_than: str) -> list[tuple[str, str, str, str, int]]:
        """Held claims whose owner port does not use them (a crash between claim and
        create, or a release that never happened): (kind, scope, value, owner, seq)."""
        ips = self.conn.execute("""
            SELECT 'ip', c.subnet_id, c.ip_address, c.owner, c.seq FROM ip_claims c
            WHERE c.held = 1 AND c.time <= ? AND NOT EXISTS (
              SELECT 1 FROM ports p, json_each(json_extract(p.body, '$.fixed_ips')) f
              WHERE p.id = c.owner AND json_extract(f.value, '$.ip_address') = c.ip_address
                AND json_extract(f.value, '$.subnet_id') = c.subnet_id)""", [older_than]).fetchall()
        macs = self.conn.execute("""
            SELECT 'mac', c.network_id, c.mac_address, c.owner, c.seq FROM mac_claims c
            WHERE c.held = 1 AND c.time <= ? AND NOT EXISTS (
              SELECT 1 FROM ports p WHERE p.id = c.owner AND p.mac_address = c.mac_address)""",
                                 [older_than]).fetchall()
        return [tuple(r) for r in ips] + [tuple(r) for r in macs]

    def agents(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM agents ORDER BY host, agent_type").fetchall()
