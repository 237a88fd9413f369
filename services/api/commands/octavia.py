"""Octavia commands: load a load balancer's state (with its worker report) and write
decisions on it through the executor's atomic mode (the VIP port lands with the LB)."""

from __future__ import annotations

import msgspec

from netledger.errors import Forbidden

from ..deciders import octavia as decide
from ..octavia_views import Report, lb_provisioning
from ..writer import run_atomic_with_claims


_dec_state = msgspec.json.Decoder(decide.O.LbState)


# Octavia loads an object, then enforces ``project_id:%(project_id)s`` on it: another
# project's load balancer tree is 403 (not Neutron's 404); writes need the member role
# (load-balancer_member / member), so a reader's write is 403 too.
FORBIDDEN = "Policy does not allow this request to be performed."


def require_member(ctx) -> None:
    if not ctx.is_admin and "member" not in ctx.roles:
        raise Forbidden(FORBIDDEN)


def owned(ctx, project_id: str) -> None:
    if not ctx.is_admin and project_id != ctx.project_id:
        raise Forbidden(FORBIDDEN)


def _report(svc, lb_id: str, host: str) -> Report:
    row = svc.reader.conn.execute("SELECT host, revision, provisioning, operating FROM lb_status WHERE lb_id = ?",
                                  [lb_id]).fetchone()
    if row is None or not host or row[0] != host:
        return Report()
    return Report(revision=row[1], provisioning=row[2], operating=msgspec.json.decode(row[3]))


def load(svc, ctx, lb_id: str) -> tuple[decide.O.LbState, int, Report]:
    row = svc.reader.conn.execute("SELECT state, seq, host, project_id FROM loadbalancers WHERE id = ?",
                                  [lb_id]).fetchone()
    if row is None:
        raise decide.not_found("loadbalancer", lb_id)
    owned(ctx, row[3])
    return _dec_state.decode(row[0]), row[1], _report(svc, lb_id, row[2])


def lb_of(svc, ctx, kind: str, child_id: str) -> str:
    row = svc.reader.conn.execute("SELECT lb_id, project_id FROM lb_children WHERE id = ? AND kind = ?",
                                  [child_id, kind]).fetchone()
    if row is None:
        raise decide.not_found(kind, child_id)
    owned(ctx, row[1])
    return row[0]


def visible_states(svc, ctx) -> list[tuple[decide.O.LbState, Report]]:
    sql, args = "SELECT id, state, host FROM loadbalancers", []
    if not ctx.is_admin:
        sql, args = sql + " WHERE project_id = ?", [ctx.project_id]
    rows = svc.reader.conn.execute(sql + " ORDER BY id", args).fetchall()
    return [(_dec_state.decode(r[1]), _report(svc, r[0], r[2])) for r in rows]


async def write(svc, ctx, lb_id: str, decide_fn) -> None:
    """decide_fn(state, seq, provisioning) -> Plan; decided again after a lost race."""
    def plan(won):
        state, seq, rep = load(svc, ctx, lb_id)
        return decide_fn(state, seq, lb_provisioning(state, rep))

    await run_atomic_with_claims(plan, svc.writer, ctx)
