"""The one entry point of every host agent: connect, build the worker, run until told to stop.

``build(bus)`` returns the worker (or an awaitable of it); the worker has
``run(stop)``. ``stop`` None means SIGTERM/SIGINT stop it. The NATS connection is
drained on the way out, so status reports already handed to the bus are delivered.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
from typing import Any, Callable

import structlog

from netledger.libs.bus import Bus, connect, ensure_streams, wait_for_buckets
from netledger.libs.events.subjects import Subjects


async def run_agent(name: str, host: str, build: Callable[[Bus], Any], *, nats_url: str, prefix: str,
                    stop: asyncio.Event | None = None, **log_fields: Any) -> Any:
    """Until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None); returns the worker."""
    structlog.contextvars.bind_contextvars(host=host)
    log = structlog.get_logger(name)
    bus = await connect(nats_url, name=f"{name}-{host}", subjects=Subjects(prefix))
    try:
        if os.environ.get("NETLEDGER_NATS_CREDENTIALS"):
            await wait_for_buckets(bus)     # a host user: streams are the topology's to create
        else:
            await ensure_streams(bus)
        worker = build(bus)
        if inspect.isawaitable(worker):
            worker = await worker
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        log.info(f"{name} starting", **log_fields)
        await worker.run(stop)
        return worker
    finally:
        await bus.nc.drain()
