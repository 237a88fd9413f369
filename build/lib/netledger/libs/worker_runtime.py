"""Pieces every intent-driven worker (L3, DHCP, LB, VPN) shares: periodic jobs and
applying one KV watch entry to the worker's intent cache."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import msgspec


async def every(interval: float, fn, log) -> None:
    """Run ``fn`` forever, ``interval`` seconds apart; a failure is logged, never fatal."""
    while True:
        try:
            await fn()
        except Exception as exc:  # noqa: BLE001 - periodic jobs must never die
            log.warning("periodic job failed", job=fn.__name__, error=repr(exc))
        await asyncio.sleep(interval)


def apply_entry(intents: dict[str, Any], entry, decode: Callable[[bytes], Any], log) -> str:
    """Update the cache from one KV entry (deleted/purged/empty = gone; undecodable =
    ignored and dropped, logging the key only: values may hold secrets). Returns the id."""
    oid = entry.key.rsplit(".", 1)[-1]
    if entry.operation in ("DEL", "PURGE") or not entry.value:
        intents.pop(oid, None)
        return oid
    try:
        intents[oid] = decode(entry.value)
    except (msgspec.DecodeError, msgspec.ValidationError):
        log.error("bad intent ignored", key=entry.key)
        intents.pop(oid, None)
    return oid
