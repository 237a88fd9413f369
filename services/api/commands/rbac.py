"""RBAC reads shared by the network and RBAC commands (policies of a network, who uses it)."""

from __future__ import annotations

import msgspec

from netledger.errors import NotFound

from ..deciders import rbac as decide


def rows_of(reader, network_id: str) -> list[dict]:
    rows = reader.conn.execute("SELECT body FROM rbac_policies WHERE object_id = ?", [network_id])
    return [_decode(r[0]) for r in rows]


def _decode(text):
    return msgspec.json.decode(text)


def port_projects(reader, network_id: str) -> set[str]:
    rows = reader.conn.execute("SELECT DISTINCT project_id FROM ports WHERE network_id = ?", [network_id])
    return {r[0] for r in rows}


def all_policies(reader, scope: str | None) -> list[dict]:
    """Explicit policies of existing networks plus the wildcard of each shared one."""
    sql = ("SELECT r.body FROM rbac_policies r JOIN networks n ON n.id = r.object_id"
           + (" WHERE r.project_id = ?" if scope else "") + " ORDER BY r.id")
    out = [_decode(r[0]) for r in reader.conn.execute(sql, [scope] if scope else [])]
    shared = ("SELECT body FROM networks WHERE json_extract(body, '$.shared') = 1"
              + (" AND project_id = ?" if scope else ""))
    out += [decide.wildcard_policy(_decode(r[0])) for r in reader.conn.execute(shared, [scope] if scope else [])]
    return out


def find(reader, ctx, policy_id: str) -> tuple[dict, dict]:
    """(policy, network) visible to the caller, or RbacPolicyNotFound."""
    for policy in all_policies(reader, ctx.scope()):
        if policy["id"] == policy_id:
            net, _ = reader.get("network", policy["object_id"], None)
            return policy, net
    raise NotFound(f"RBAC policy {policy_id} could not be found.", type="RbacPolicyNotFound")
