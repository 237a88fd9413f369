"""Releases orphaned claims: a value claimed by a resource that never used it.

This happens only when an API process dies between claiming and publishing the fact,
or between publishing a change and releasing what it replaced. Each release expects
the claim subject's sequence it saw, so several janitors (one per API process) and a
late original release cannot free a value twice or free someone else's claim.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import structlog

from netledger.libs.bus import PublishError
from netledger.libs.events.claims import IpReleased, MacReleased
from netledger.libs.events.envelope import wrap

log = structlog.get_logger("api.janitor")

GRACE_S = 120
EVERY_S = 30


async def sweep(svc, *, grace_s: float = GRACE_S) -> int:
    cutoff = (datetime.now(timezone.utc) - timedelta(seconds=grace_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
    released = 0
    for kind, scope, value, owner, seq in svc.reader.orphan_claims(cutoff):
        if kind == "ip":
            subject = svc.subjects.claim_ip(scope, value)
            ev = IpReleased(subnet_id=scope, ip_address=value, owner=owner)
        else:
            subject = svc.subjects.claim_mac(scope, value)
            ev = MacReleased(network_id=scope, mac_address=value, owner=owner)
        try:
            await svc.bus.publish(subject, wrap(ev, kind="claim", aggregate_id=owner, request_id="janitor"),
                                  expect_seq=seq)
            released += 1
            log.info("released orphan claim", kind=kind, scope=scope, value=value, owner=owner)
        except PublishError as exc:
            log.debug("orphan already handled", subject=subject, error=str(exc))
    return released


async def run(svc) -> None:
    while True:
        await asyncio.sleep(EVERY_S)
        try:
            await sweep(svc)
        except Exception as exc:  # never let the janitor take the API down
            log.warning("janitor sweep failed", error=repr(exc))


async def sweep_once(cfg, *, grace_s: float) -> int:
    """One sweep from the command line (after a crash test, or by an operator)."""
    from types import SimpleNamespace

    from netledger.libs import bus as busmod
    from netledger.libs.events.subjects import Subjects

    from .store import Reader

    bus = await busmod.connect(cfg.effective_nats_url, name="netledger-janitor", subjects=Subjects(cfg.prefix))
    try:
        svc = SimpleNamespace(bus=bus, subjects=bus.subjects, reader=Reader(cfg.effective_db_path))
        return await sweep(svc, grace_s=grace_s)
    finally:
        await bus.nc.close()
