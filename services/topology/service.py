"""Process entry points for topology: the live projection and a rebuild from zero."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import structlog
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from netledger.config import Config
from netledger.libs import bus as busmod
from netledger.libs.events.subjects import Subjects

from . import store
from .notify import AfterCommit
from netledger.libs.pull import PullConsumer

from .runner import Folder, run_stream

REBUILD_WINDOW = 10000

log = structlog.get_logger("topology")


async def _connect(cfg: Config, name: str) -> busmod.Bus:
    bus = await busmod.connect(cfg.effective_nats_url, name=name, subjects=Subjects(cfg.prefix),
                               user=cfg.nats_user or None, password=cfg.nats_password or None,
                               creds=cfg.nats_creds or None)
    await busmod.ensure_streams(bus)
    return bus


async def serve(cfg: Config, *, ready: asyncio.Event | None = None) -> None:
    bus = await _connect(cfg, f"netledger-topology-{cfg.projection_name}")
    db_path = cfg.effective_db_path
    os.makedirs(os.path.dirname(os.path.abspath(db_path)), exist_ok=True)
    store.create_schema(store.open_db(db_path))
    hooks = AfterCommit(bus, store.open_db(db_path).conn, publish_intents=cfg.publish_intents)
    await hooks.start()
    events_ready, status_ready = asyncio.Event(), asyncio.Event()
    tasks = [
        asyncio.create_task(run_stream(bus, db_path, cfg.projection_name, "events", events_ready, hooks)),
        asyncio.create_task(run_stream(bus, db_path, cfg.projection_name, "status", status_ready, hooks)),
    ]
    await asyncio.wait([asyncio.create_task(events_ready.wait()), *tasks], return_when=asyncio.FIRST_COMPLETED)
    await status_ready.wait()
    log.info("topology ready", db=db_path)
    if ready:
        ready.set()
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in done:
        task.result()


async def rebuild(cfg: Config, db_path: str, *, progress=None) -> dict:
    """Fold both streams from sequence 1 into a fresh database; returns figures."""
    if os.path.exists(db_path):
        raise SystemExit(f"{db_path} exists; rebuild writes a fresh database")
    bus = await _connect(cfg, "netledger-rebuild")
    db = store.open_db(db_path)
    store.create_schema(db)
    figures = {}
    try:
        for stream_key in ("events", "status"):
            figures[stream_key] = await _rebuild_stream(bus, db, stream_key, progress)
    finally:
        await bus.nc.close()
    return figures


async def _rebuild_stream(bus: busmod.Bus, db, stream_key: str, progress) -> dict:
    stream = bus.stream_names[stream_key]
    info = await bus.js.stream_info(stream)
    last = info.state.last_seq
    folder = Folder(store.Projection(db), stream_key, bus=None, consumer="rebuild")
    start = time.perf_counter()
    count = 0
    if last:
        cfg = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL,
                             inactive_threshold=60.0)
        cinfo = await bus.js.add_consumer(stream, cfg)
        sub = PullConsumer(bus.nc, stream, cinfo.name, window=REBUILD_WINDOW)
        await sub.start()
        while folder.position < last:
            msgs = await sub.next_batch(REBUILD_WINDOW)
            if not msgs:
                raise RuntimeError(f"rebuild stalled at {folder.position}/{last}")
            folder.fold_batch([(m.metadata.sequence.stream, m.data) for m in msgs])
            count += len(msgs)
            if progress:
                progress(stream_key, folder.position, last)
        await sub.stop()
    elapsed = time.perf_counter() - start
    return {"messages": count, "seconds": round(elapsed, 3),
            "per_second": round(count / elapsed) if elapsed > 0 else 0, "last_seq": last}


def print_progress(stream_key: str, pos: int, last: int) -> None:
    sys.stderr.write(f"\r{stream_key}: {pos}/{last} ({100 * pos // max(last, 1)}%)")
    if pos >= last:
        sys.stderr.write("\n")
    sys.stderr.flush()


def dumps(obj) -> str:
    return json.dumps(obj, indent=2)
