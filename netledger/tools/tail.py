"""``netledger events tail``: print committed events, one JSON line each."""

from __future__ import annotations

import asyncio
import json
import sys

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from netledger.libs import bus as busmod
from netledger.libs.events import codec
from netledger.libs.events.subjects import Subjects


async def tail(cfg, *, subject: str | None, since: int, follow: bool, stream_key: str = "events") -> None:
    bus = await busmod.connect(cfg.effective_nats_url, name="netledger-tail", subjects=Subjects(cfg.prefix))
    stream = bus.stream_names[stream_key]
    info = await bus.js.stream_info(stream)
    end = info.state.last_seq
    policy = dict(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=since) if since else \
        dict(deliver_policy=DeliverPolicy.NEW if follow else DeliverPolicy.ALL)
    ccfg = ConsumerConfig(ack_policy=AckPolicy.NONE, filter_subject=subject, inactive_threshold=30.0, **policy)
    cinfo = await bus.js.add_consumer(stream, ccfg)
    sub = await bus.js.pull_subscribe_bind(cinfo.name, stream=stream)
    try:
        while True:
            try:
                msgs = await sub.fetch(256, timeout=1.0)
            except asyncio.TimeoutError:
                if not follow:
                    return
                continue
            for m in msgs:
                sys.stdout.write(_line(m) + "\n")
            sys.stdout.flush()
            if not follow and msgs[-1].metadata.sequence.stream >= end:
                return
    finally:
        await bus.nc.close()


def _line(m) -> str:
    seq = m.metadata.sequence.stream
    try:
        env = codec.decode(m.data)
        body = json.loads(codec.encode(env))
    except codec.PoisonMessage as exc:
        body = {"undecodable": str(exc), "raw": m.data[:200].decode(errors="replace")}
    return json.dumps({"seq": seq, "subject": m.subject, **body}, separators=(",", ":"))
