"""Bytes <-> envelopes, with upcasting of old event versions.

Fast path: decode straight into the current union. If that fails because a message
carries an old tag, the raw dict goes through the upcaster chain (old tag -> newer
dict) and is converted again, so folds only ever see the newest shapes. Anything
still undecodable is a :class:`PoisonMessage` for the caller to park.
"""

from __future__ import annotations

from typing import Any, Callable

import msgspec

from . import vpnaas
from .envelope import Envelope

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

# old tag -> function returning the next version's dict (with its new "type").
UPCASTERS: dict[str, Upcaster] = {**vpnaas.UPCASTERS}

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Envelope)


class PoisonMessage(ValueError):
    """A message no version of the contract can read."""


def encode(env: Envelope) -> bytes:
    return _encoder.encode(env)


def decode(data: bytes) -> Envelope:
    try:
        return _decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as first:
        return _decode_upcast(data, first)


def _decode_upcast(data: bytes, first: Exception) -> Envelope:
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise PoisonMessage(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("event"), dict):
        raise PoisonMessage(f"not an envelope: {first}")
    event = raw["event"]
    seen = set()
    while event.get("type") in UPCASTERS and event["type"] not in seen:
        seen.add(event["type"])
        event = UPCASTERS[event["type"]](event)
    raw["event"] = event
    try:
        return msgspec.convert(raw, Envelope)
    except msgspec.ValidationError as exc:
        raise PoisonMessage(f"unknown or invalid event: {exc}") from exc
