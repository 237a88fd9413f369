"""Reads of the projection for the L3 intent publisher (topology side, SQLite only).

``groups_for_ports`` gives the compiled firewall groups of a router's ports;
``touched_routers`` the routers whose firewall part may have changed since a
position: groups whose revision (group, policies, rules) moved, and ports a group
fact added or removed (``firewall_port_marks``), so a detached port's router is
recompiled too. Both are no-ops on a projection without FWaaS rows.
"""

from __future__ import annotations

import msgspec

from netledger.libs.events.fwaas import FwGroupIntent

from .compile import build_groups

_dec = msgspec.json.decode


def groups_for_ports(conn, port_ids: list[str]) -> tuple[FwGroupIntent, ...]:
    if not port_ids:
        return ()
    marks = ",".join("?" * len(port_ids))
    rows = conn.execute(f"SELECT DISTINCT g.body FROM firewall_groups g, json_each(json_extract(g.body, '$.ports')) j"
                        f" WHERE j.value IN ({marks})", list(port_ids)).fetchall()
    groups = [_dec(r[0]) for r in rows]
    if not groups:
        return ()
    policy_ids = {g[k] for g in groups for k in ("ingress_firewall_policy_id", "egress_firewall_policy_id") if g[k]}
    policies = {pid: _dec(r[0]) for pid in policy_ids
                for r in [conn.execute("SELECT body FROM firewall_policies WHERE id = ?", [pid]).fetchone()] if r}
    rule_ids = {r for p in policies.values() for r in p["firewall_rules"]}
    rules = {rid: _dec(r[0]) for rid in rule_ids
             for r in [conn.execute("SELECT body FROM firewall_rules WHERE id = ?", [rid]).fetchone()] if r}
    revs = {g["id"]: conn.execute("SELECT rev FROM firewall_group_revs WHERE id = ?", [g["id"]]).fetchone()[0]
            for g in groups}
    return build_groups(groups, policies, rules, revs, set(port_ids))


def touched_routers(conn, since: int) -> set[str]:
    q = conn.execute
    out = {r[0] for r in q("SELECT p.device_id FROM firewall_port_marks m JOIN ports p ON p.id = m.port_id "
                           "WHERE m.seq > ?", [since])}
    out |= {r[0] for r in q("SELECT p.device_id FROM firewall_group_revs v JOIN firewall_groups g ON g.id = v.id, "
                            "json_each(json_extract(g.body, '$.ports')) j JOIN ports p ON p.id = j.value "
                            "WHERE v.rev > ?", [since])}
    return {r for r in out if r}
