"""Firewall group reports of the L3 worker (status stream): one per (group, router).

After a router is reconciled the worker tells, for every group in its intent, that
the group's chains at ``revision`` are in place (ACTIVE) or that applying failed
(ERROR); groups that left the router are reported DOWN once. Reports are
deduplicated in memory: re-reconciling a converged router publishes nothing.
"""

from __future__ import annotations

from netledger.libs.events.envelope import wrap
from netledger.libs.events.fwaas import FirewallGroupStatusReported
from netledger.libs.events.l3_intents import RouterIntent


class FwStatusReporter:
    def __init__(self, bus, host: str) -> None:
        self.bus, self.host = bus, host
        self.sent: dict[str, dict[str, tuple[str, int]]] = {}     # router id -> group id -> (status, rev)

    async def report(self, router_id: str, intent: RouterIntent | None, status: str) -> None:
        groups = intent.firewall_groups if intent is not None else ()
        now = {g.group_id: (status, g.revision) for g in groups}
        before = self.sent.get(router_id, {})
        for gid in sorted(set(now) | set(before)):
            value = now[gid] if gid in now else ("DOWN", before[gid][1])
            if before.get(gid) == value:
                continue
            ev = FirewallGroupStatusReported(group_id=gid, router_id=router_id, host=self.host, status=value[0],
                                             revision=value[1])
            await self.bus.publish(self.bus.subjects.status("firewall_group", gid),
                                   wrap(ev, kind="firewall_group", aggregate_id=gid))
        if now:
            self.sent[router_id] = now
        else:
            self.sent.pop(router_id, None)
