"""Security group commands: reads of groups and rules, and the per-project default group."""

from __future__ import annotations

from netledger.errors import NotFound
from netledger.libs.events.envelope import utc_now
from netledger.libs.events.security_group import default_group_id

from ..deciders import security_group as decide
from ..writer import Retry


def group_exists(svc, sg_id: str) -> bool:
    return svc.reader.row("security_groups", sg_id) is not None


async def ensure_default(svc, ctx, project_id: str, *, wait: bool = True) -> str:
    """The project's default group, created if missing (race-free: expected seq 0).

    ``wait=False`` (port creates): the id is fixed per project, so the port can name the
    group before it is projected, and a port create still works while topology is down.
    Lists and group writes wait, because they show the group."""
    gid = default_group_id(project_id)
    if project_id and not group_exists(svc, gid):
        plan = decide.decide_default(project_id, exists=False, subjects=svc.subjects, time=utc_now())
        try:
            await svc.writer.execute(ctx, plan, wait=wait)
        except Retry as exc:  # expected-sequence 0 lost: another request created it first
            if wait:
                await svc.position.wait_for(exc.seq)
    return gid


def get_group(svc, ctx, sg_id: str) -> tuple[dict, int]:
    try:
        return svc.reader.get("security_group", sg_id, ctx.scope())
    except NotFound:
        raise NotFound(f"Security group {sg_id} does not exist", type="SecurityGroupNotFound") from None


def get_rule(svc, ctx, rule_id: str) -> tuple[dict, int]:
    try:
        return svc.reader.get("security_group_rule", rule_id, ctx.scope())
    except NotFound:
        raise NotFound(f"Security group rule {rule_id} does not exist",
                       type="SecurityGroupRuleNotFound") from None


def ports_using(svc, sg_id: str) -> int:
    row = svc.reader.conn.execute(
        "SELECT count(*) FROM ports p, json_each(json_extract(p.body, '$.security_groups')) g "
        "WHERE g.value = ?", [sg_id]).fetchone()
    return row[0]
