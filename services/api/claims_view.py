"""Reader-backed views the port decider consults: claims and live agents.

``free_ips`` also remembers, for a few seconds, addresses this process just handed to
an in-flight request, so concurrent requests in one process rarely pick the same one.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

import msgspec

from . import ipam
from .store import Reader

SMALL_POOL = 1 << 16
INFLIGHT_S = 5.0


class ReaderClaims:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.inflight: dict[tuple[str, str], float] = {}

    def ip(self, subnet_id: str, ip: str):
        return self.reader.ip_claim(subnet_id, ip)

    def mac(self, network_id: str, mac: str):
        return self.reader.mac_claim(network_id, mac)

    def _recent(self, subnet_id: str) -> set[str]:
        now = time.monotonic()
        for key in [k for k, t in self.inflight.items() if t < now]:
            del self.inflight[key]
        return {ip for (sid, ip) in self.inflight if sid == subnet_id}

    def free_ips(self, subnet: dict, count: int, rng: random.Random, exclude: set[str]) -> list[str]:
        sid = subnet["id"]
        avoid = set(exclude) | self._recent(sid)
        if ipam.pool_size(subnet["allocation_pools"]) <= SMALL_POOL:
            used = self.reader.held_ips(sid) | avoid
            try:
                picked = ipam.pick_free_ips(subnet, used, count, rng)
            except Exception:
                # In-flight picks may be what fills the pool: try once without them.
                picked = ipam.pick_free_ips(subnet, self.reader.held_ips(sid) | set(exclude), count, rng)
        else:
            picked = []
            while len(picked) < count:
                cands = ipam.pick_free_ips(subnet, avoid | set(picked), count * 4, rng)
                held = self.reader.held_ips(sid, cands)
                picked += [c for c in cands if c not in held][: count - len(picked)]
        deadline = time.monotonic() + INFLIGHT_S
        for ip in picked:
            self.inflight[(sid, ip)] = deadline
        return picked


class ReaderAgents:
    def __init__(self, reader: Reader, down_after: float) -> None:
        self.reader = reader
        self.down_after = down_after

    def alive(self, last_heartbeat: str) -> bool:
        seen = datetime.strptime(last_heartbeat, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        return datetime.now(timezone.utc) - seen <= timedelta(seconds=self.down_after)

    def live_on(self, host: str) -> list[dict]:
        return [msgspec.json.decode(r["body"]) for r in self.reader.agents()
                if r["host"] == host and self.alive(r["last_heartbeat"])]
