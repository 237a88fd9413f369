"""HAProxy's ``show stat`` -> Octavia operating statuses (pure).

Members: UP -> ONLINE, DOWN -> ERROR, MAINT (admin down) -> OFFLINE, "no check" ->
NO_MONITOR (transitional "UP 1/3" / "DOWN 1/2" count as their first word).
Pools: no members or all ONLINE/NO_MONITOR -> ONLINE; some ERROR -> DEGRADED; all
enabled members ERROR -> ERROR. Listeners: their frontend OPEN -> ONLINE, else
OFFLINE. The load balancer: DEGRADED when any pool is DEGRADED or ERROR, else ONLINE.
"""

from __future__ import annotations

from netledger.libs.events import octavia as O

MEMBER = {"UP": "ONLINE", "DOWN": "ERROR", "MAINT": "OFFLINE", "NOLB": "ONLINE", "DRAIN": "ONLINE",
          "no": "NO_MONITOR"}


def parse_stat(text: str) -> dict[tuple[str, str], str]:
    """(proxy, server) -> status word, from the CSV ``show stat`` prints."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("# "):
        return {}
    header = lines[0][2:].split(",")
    at = header.index("status")
    out = {}
    for ln in lines[1:]:
        cols = ln.split(",")
        if len(cols) > at:
            out[(cols[0], cols[1])] = cols[at].split(" ")[0]
    return out


def _pool(statuses: list[str]) -> str:
    live = [s for s in statuses if s != "OFFLINE"]
    errors = sum(1 for s in live if s == "ERROR")
    if live and errors == len(live):
        return "ERROR"
    return "DEGRADED" if errors else "ONLINE"


def operating(intent: O.LbIntent, stats: dict[tuple[str, str], str]) -> tuple[O.OperatingStatus, ...]:
    s = intent.state
    out: dict[str, str] = {}
    for pool in s.pools:
        members = [m for m in s.members if m.pool_id == pool.id]
        for m in members:
            out[m.id] = MEMBER.get(stats.get((pool.id, m.id), ""), "OFFLINE")
        out[pool.id] = _pool([out[m.id] for m in members]) if pool.admin_state_up else "OFFLINE"
    for li in s.listeners:
        out[li.id] = "ONLINE" if stats.get((li.id, "FRONTEND")) == "OPEN" else "OFFLINE"
    bad = any(out[p.id] in ("DEGRADED", "ERROR") for p in s.pools)
    out[s.lb.id] = "DEGRADED" if bad else "ONLINE"
    return tuple(O.OperatingStatus(id=k, status=v) for k, v in sorted(out.items()))
