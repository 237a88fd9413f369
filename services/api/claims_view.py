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

SAMPLE_ROUNDS = 3
INFLIGHT_S = 1.0


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
        if self.inflight and next(iter(self.inflight.values())) < now:
            for key in [k for k, t in self.inflight.items() if t < now]:
                del self.inflight[key]
        return {ip for (sid, ip) in self.inflight if sid == subnet_id}

    def free_ips(self, subnet: dict, count: int, rng: random.Random, exclude: set[str]) -> list[str]:
        """Sample candidates and check them against the claims index; only when the pools
        are nearly full does it load every held address (cost stays independent of pool
        size on the common path)."""
        sid = subnet["id"]
        avoid = set(exclude)
        recent = self._recent(sid)  # compared as strings: never parsed on this path
        picked: list[str] = []
        for _ in range(SAMPLE_ROUNDS):
            try:
                cands = ipam.pick_free_ips(subnet, avoid | set(picked), count * 4, rng)
            except Exception:
                break
            held = self.reader.held_ips(sid, cands) | (recent & set(cands))
            picked += [c for c in cands if c not in held][: count - len(picked)]
            if len(picked) == count:
                break
            avoid |= held
        if len(picked) < count:
            # Dense pool: enumerate what is free (raises IpAddressGenerationFailure if none).
            used = self.reader.held_ips(sid) | set(exclude)
            picked = ipam.pick_free_ips(subnet, used, count, rng)
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
