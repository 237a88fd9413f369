"""Reader-backed inputs of the port decider: claim snapshots and live agents.

The decider is pure: it sees claims only through a ClaimSnapshot and raises
NeedClaims for what the snapshot lacks; ``decide_with_claims`` reads that and decides
again. ``free_ips`` also remembers, for a second, addresses this process just handed
to an in-flight request, so concurrent requests in one process rarely pick the same one
(that memory, and the clock it needs, live here, not in the decider).
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

import msgspec

from netledger.errors import NeutronError

from . import ipam
from .deciders.port_addresses import ClaimSnapshot, NeedClaims
from .store import Reader

SAMPLE_ROUNDS = 3
INFLIGHT_S = 1.0
# Each round fills one gap of the snapshot; a decision needs a handful at most.
DECIDE_ROUNDS = 64


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


    def fill(self, snap: ClaimSnapshot, need: NeedClaims, rng: random.Random) -> ClaimSnapshot:
        """The snapshot with what ``need`` asks for read from the claims index."""
        ips = {f"{sid}/{ip}": self.ip(sid, ip) for sid, ip in need.ips}
        macs = {f"{net}/{mac}": self.mac(net, mac) for net, mac in need.macs}
        free, fresh, exhausted = {}, {}, frozenset()
        if need.free is not None:
            subnet, exclude = need.free
            try:
                (ip,) = self.free_ips(subnet, 1, rng, set(exclude) | set(snap.free.get(subnet["id"], ())))
                free[subnet["id"]] = (ip,)
                ips[f"{subnet['id']}/{ip}"] = self.ip(subnet["id"], ip)
            except NeutronError as exc:
                if exc.type != "IpAddressGenerationFailure":
                    raise
                exhausted = frozenset({subnet["id"]})
        if need.fresh_macs is not None:
            net, base = need.fresh_macs
            mac = ipam.generate_mac(base, rng)
            fresh[net] = (mac,)
            macs[f"{net}/{mac}"] = self.mac(net, mac)
        return snap.merged(ips=ips, macs=macs, free=free, fresh_macs=fresh, exhausted=exhausted)

    def decide_with_claims(self, decide, rng: random.Random, snap: ClaimSnapshot | None = None):
        """``decide(snapshot)`` until the snapshot covers everything it needs."""
        snap = snap or ClaimSnapshot()
        for _ in range(DECIDE_ROUNDS):
            try:
                return decide(snap)
            except NeedClaims as need:
                snap = self.fill(snap, need, rng)
        raise RuntimeError("port decision needed more claims than DECIDE_ROUNDS")


class ReaderAgents:
    def __init__(self, reader: Reader, down_after: float) -> None:
        self.reader = reader
        self.down_after = down_after

    def alive(self, last_heartbeat: str, now: datetime) -> bool:
        seen = datetime.strptime(last_heartbeat, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        return now - seen <= timedelta(seconds=self.down_after)

    def live_on(self, host: str, now: datetime) -> list[dict]:
        """Bodies of the agents on ``host`` alive at ``now`` (the caller's clock read)."""
        if not host:
            return []
        return [msgspec.json.decode(r["body"]) for r in self.reader.agents()
                if r["host"] == host and self.alive(r["last_heartbeat"], now)]
