"""Carries out a decider's Plan on JetStream, then waits for read-your-writes.

Order: claims (in parallel) -> facts (in order) -> releases (in parallel). A lost race
anywhere before the facts raises :class:`Retry` so the handler re-reads and decides
again; the claims this attempt already won are recorded in the request's
:class:`Ledger`, reused by the next decision (which releases what it no longer needs),
and released here if the request fails before its facts were published.
"""

from __future__ import annotations

import asyncio
import json
import random

import structlog

from netledger.errors import Conflict, ServiceUnavailable
from netledger.libs.bus import Bus, BusUnavailable, WrongLastSequence
from netledger.libs.events.envelope import wrap

from .context import RequestContext
from .deciders import Plan, Publication
from .deciders.claims import Ledger
from .position import Position

log = structlog.get_logger("api.writer")

# Each lost race is followed by a decision on newer state, so N concurrent writers of
# one aggregate need up to N attempts; beyond this the client is told to retry (409).
ATTEMPTS = 32
# Unique-index claims (addresses, MACs, segments) and quota slots: exactly-once by
# their sequence check alone, so published without a message id.
CLAIM_KINDS = frozenset({"claim", "quota"})


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
        # Claims and releases carry no message id: their expected-sequence check already
        # makes them exactly-once, and a message id would let a value claimed, released
        # and chosen again by the same request be "deduplicated" into a claim that was
        # never stored.
        msg_id = None if pub.kind in CLAIM_KINDS else ctx.msg_id(pub.step)
        try:
            return await self.bus.publish(pub.subject, env, msg_id=msg_id,
                                          expect_seq=pub.expect_seq, expect_subject=pub.expect_subject)
        except BusUnavailable as exc:
            raise ServiceUnavailable("The event bus is unavailable; please retry.") from exc

    async def claim(self, ctx: RequestContext, claims: tuple[Publication, ...], ledger: Ledger) -> int:
        """Publish claims in parallel, recording each one won; a lost one raises Retry
        with a sequence covering the wins too (the next decision must see them held)."""
        top, lost, failure = 0, None, None
        results = await asyncio.gather(*(self._publish(ctx, p) for p in claims), return_exceptions=True)
        for pub, res in zip(claims, results):
            if isinstance(res, WrongLastSequence):
                lost = lost or (res.current, pub)
            elif isinstance(res, BaseException):
                failure = failure or res
            else:
                ledger.record(pub, res)
                top = max(top, res)
        if failure is not None:
            raise failure
        if lost is not None:
            raise Retry(max(lost[0], top), lost[1])
        return top

    async def release(self, ctx: RequestContext, releases: list[Publication] | tuple[Publication, ...]) -> int:
        """Best effort: a release that fails is left to the janitor."""
        top = 0
        results = await asyncio.gather(*(self._publish(ctx, p) for p in releases), return_exceptions=True)
        for pub, res in zip(releases, results):
            if isinstance(res, WrongLastSequence):
                # Someone (the janitor, a concurrent retry) already released it.
                log.info("release skipped", subject=pub.subject, current=res.current)
            elif isinstance(res, BaseException):
                log.warning("release failed; the janitor will free it", subject=pub.subject, error=repr(res))
            else:
                top = max(top, res)
        return top

    async def replayed(self, ctx: RequestContext, subject: str, step: str) -> bool:
        """Whether the last event on ``subject`` (wildcards allowed) is this request's
        ``step``: how a delete retried with the same X-Idempotency-Key recognises that
        it already happened (JetStream checks sequences before its dedupe, so a blind
        re-publish would not tell us)."""
        if not ctx.idempotency_key:
            return False
        stream = self.bus.stream_names["events"]
        req = json.dumps({"last_by_subj": subject}).encode()
        try:
            reply = await self.bus.nc.request(f"$JS.API.DIRECT.GET.{stream}", req, timeout=5)
        except Exception as exc:  # an answer we cannot check is "not replayed"
            log.warning("replay check failed", subject=subject, error=repr(exc))
            return False
        return (reply.headers or {}).get("Nats-Msg-Id") == ctx.msg_id(step)

    async def _publish_atomic(self, ctx: RequestContext, facts: tuple[Publication, ...]) -> int:
        """All facts as one JetStream atomic batch (one alone: a plain publish)."""
        # Steps are only unique per aggregate (every create is "create"): qualify them.
        items = [(p.subject, wrap(p.event, kind=p.kind, aggregate_id=p.aggregate_id, request_id=ctx.request_id,
                                  actor=ctx.actor), ctx.msg_id(f"{p.kind}:{p.aggregate_id}:{p.step}"),
                  p.expect_seq, p.expect_subject) for p in facts]
        # Facts sharing a tree expectation (bulk items on one network): only the first
        # may carry it (the others would see the first's sequence), which still guards all.
        seen: set[str] = set()
        for n, (subject, env, msg_id, seq, exp_subject) in enumerate(items):
            if exp_subject and exp_subject in seen:
                items[n] = (subject, env, msg_id, None, None)
            seen.add(exp_subject or subject)
        try:
            if len(items) == 1:
                subject, env, msg_id, seq, exp = items[0]
                return await self.bus.publish(subject, env, msg_id=msg_id, expect_seq=seq, expect_subject=exp)
            return await self.bus.publish_batch(items)
        except BusUnavailable as exc:
            raise ServiceUnavailable("The event bus is unavailable; please retry.") from exc

    async def execute(self, ctx: RequestContext, plan: Plan, ledger: Ledger | None = None,
                      *, wait: bool = True, atomic: bool = False) -> int:
        """Publish the plan; returns the highest sequence written (0 if nothing to do).

        ``atomic``: the facts land as one batch (all or none), for writes spanning
        aggregates; otherwise in order, each with its own expectation.
        ``wait=False`` skips read-your-writes (for facts the caller does not read back)."""
        ledger = ledger if ledger is not None else Ledger()
        top = await self.claim(ctx, plan.claims, ledger)
        if plan.facts:
            ledger.committed = True
        if atomic and plan.facts:
            try:
                top = max(top, await self._publish_atomic(ctx, plan.facts))
            except WrongLastSequence as exc:
                ledger.committed = False   # refused as a whole
                raise Retry(max(exc.current, top), plan.facts[0]) from exc
        else:
            for n, pub in enumerate(plan.facts):
                try:
                    top = max(top, await self._publish(ctx, pub))
                except WrongLastSequence as exc:
                    ledger.committed = n > 0  # refused: nothing of this plan landed yet
                    raise Retry(max(exc.current, top), pub) from exc
        top = max(top, await self.release(ctx, plan.releases))
        if top and wait:
            await self.position.wait_for(top)
        return top


async def run_with_retries(decide, writer: Writer, ctx: RequestContext, *, ledger: Ledger | None = None,
                           wait: bool = True, atomic: bool = False) -> Plan:
    """THE write loop of the API: every write (single facts, atomic batches, bulk,
    quota slots, claims) goes through it, with one retry policy.

    decide() reads state and returns a Plan (it may raise Retry itself, e.g. when two
    items of a bulk picked the same value); lost races wait for the newer state and
    decide again. If the request fails before any fact was published, the claims it
    won are released (an error answer must leave nothing held)."""
    ledger = ledger if ledger is not None else Ledger()
    try:
        return await _attempts(decide, writer, ctx, ledger, wait, atomic)
    except BaseException:
        if ledger.won and not ledger.committed:
            await writer.release(ctx, ledger.releases())
        raise


async def _attempts(decide, writer: Writer, ctx: RequestContext, ledger: Ledger, wait: bool, atomic: bool) -> Plan:
    for attempt in range(ATTEMPTS):
        try:
            plan = decide()
            await writer.execute(ctx, plan, ledger, wait=wait, atomic=atomic)
            return plan
        except Retry as exc:
            log.info("retrying after lost race", subject=exc.pub.subject, seq=exc.seq, attempt=attempt)
            # The next decision sees the winner's state (and answers 409 itself when a
            # value the client asked for is now taken).
            try:
                await writer.position.wait_for(exc.seq, timeout=2.0)
            except ServiceUnavailable:
                pass
            if attempt >= 2:
                # Many writers on one aggregate: spread them out so each round has a winner
                # that is not always the same fast process.
                await asyncio.sleep(random.random() * 0.002 * attempt)
    raise Conflict("Too many concurrent modifications; please retry.", type="Conflict")


async def run_atomic_with_claims(decide_won, writer: Writer, ctx: RequestContext) -> Plan:
    """``run_with_retries`` (same loop, same policy) for writes spanning aggregates:
    ``decide_won(won)`` reuses the claims already won, the facts land as one batch."""
    ledger = Ledger()
    return await run_with_retries(lambda: decide_won(ledger.won), writer, ctx, ledger=ledger, atomic=True)
