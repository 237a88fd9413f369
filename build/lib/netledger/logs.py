"""structlog set-up shared by every service.

JSON lines when stderr is not a terminal (services under a supervisor, CI), coloured
key=value on a terminal. Context (request_id, seq, key, host...) is bound with
``structlog.contextvars.bind_contextvars`` and appears on every line.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog


def setup(service: str, *, level: str | None = None, json: bool | None = None) -> None:
    level_name = (level or os.environ.get("NETLEDGER_LOG_LEVEL", "info")).upper()
    use_json = (not sys.stderr.isatty()) if json is None else json
    processors = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    renderer = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level_name, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (aiohttp, nats, ovsdbapp) log through stdlib logging: keep them quiet but visible.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
