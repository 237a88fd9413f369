"""Carries out a decider's Plan on JetStream, then waits for read-your-writes.

Order: claims (in parallel) -> facts (in order) -> releases (in parallel). A lost race
anywhere before the facts raises :class:`Retry` so the handler re-reads and decides
again; the claims this attempt already won stay owned by the resource id and are
reused by the next decision (or released by the janitor if the request is abandoned).
"""

from __future__ import annotations

import asyncio

import structlog

from netledger.errors import Conflict, ServiceUnavailable
from netledger.libs.bus import Bus, BusUnavailable, WrongLastSequence
from netledger.libs.events.envelope import wrap

from .context import RequestContext
from .deciders import Plan, Publication
from .position import Position

log = structlog.get_logger("api.writer")


class Retry(Exception):
    """The state moved under us; wait for ``seq`` then decide again."""

    def __init__(self, seq: int, pub: Publication) -> None:
        super().__init__(f"lost race on {pub.subject}")
        self.seq = seq
        self.pub = pub


class Writer:
    def __init__(self, bus: Bus, position: Position) -> None:
        self.bus = bus
        self.position = position

    async def _publish(self, ctx: RequestContext, pub: Publication) -> int:
        env = wrap(pub.event, kind=pub.kind, aggregate_id=pub.aggregate_id, request_id=ctx.request_id,
                   actor=ctx.actor)
        try:
            return await self.bus.publish(pub.subject, env, msg_id=ctx.msg_id(pub.step),
                                          expect_seq=pub.expect_seq, expect_subject=pub.expect_subject)
        except BusUnavailable as exc:
            raise ServiceUnavailable("The event bus is unavailable; please retry.") from exc

    async def execute(self, ctx: RequestContext, plan: Plan) -> int:
        """Publish the plan; returns the highest sequence written (0 if nothing to do)."""
        top = 0
        results = await asyncio.gather(*(self._publish(ctx, p) for p in plan.claims), return_exceptions=True)
        for pub, res in zip(plan.claims, results):
            if isinstance(res, WrongLastSequence):
                raise Retry(res.current, pub)
            if isinstance(res, BaseException):
                raise res
            top = max(top, res)
        for pub in plan.facts:
            try:
                top = max(top, await self._publish(ctx, pub))
            except WrongLastSequence as exc:
                raise Retry(exc.current, pub) from exc
        results = await asyncio.gather(*(self._publish(ctx, p) for p in plan.releases), return_exceptions=True)
        for pub, res in zip(plan.releases, results):
            if isinstance(res, WrongLastSequence):
                # Someone (the janitor, a concurrent retry) already released it.
                log.info("release skipped", subject=pub.subject, current=res.current)
            elif isinstance(res, BaseException):
                log.warning("release failed; the janitor will free it", subject=pub.subject, error=repr(res))
            else:
                top = max(top, res)
        if top:
            await self.position.wait_for(top)
        return top


async def run_with_retries(decide, writer: Writer, ctx: RequestContext, *, attempts: int = 8) -> Plan:
    """decide() reads state and returns a Plan; lost races wait for the newer state and retry."""
    for attempt in range(attempts):
        plan = decide()
        try:
            await writer.execute(ctx, plan)
            return plan
        except Retry as exc:
            log.info("retrying after lost race", subject=exc.pub.subject, seq=exc.seq, attempt=attempt)
            # The next decision sees the winner's state (and answers 409 itself when a
            # value the client asked for is now taken).
            try:
                await writer.position.wait_for(exc.seq, timeout=2.0)
            except ServiceUnavailable:
                pass
    raise Conflict("Too many concurrent modifications; please retry.", type="Conflict")
