"""Pure folds: (current rows, event, sequence) -> row writes.

No clock, no randomness, no I/O: everything comes from the envelope and the stream
sequence, so replaying the stream into an empty database gives identical rows.
Each resource row stores the Neutron API body as JSON (``body``) plus the columns
needed for lookups, and ``seq`` = the last sequence on that aggregate's subject
(the value the API sends as its expected-last-subject-sequence).
"""

from __future__ import annotations

from typing import Any, Callable

import msgspec

from netledger.libs.events.base import Struct

Row = dict[str, Any]
Reader = Callable[[str, str], "Row | None"]


class Put(Struct, frozen=True, kw_only=True):
    table: str
    row: dict[str, Any]


class Delete(Struct, frozen=True, kw_only=True):
    table: str
    key: dict[str, Any]


Write = Put | Delete


def loads(body: str | bytes) -> dict:
    return msgspec.json.decode(body)


def dumps(body: dict) -> str:
    return msgspec.json.encode(body).decode()


def apply_changes(body: dict, event: msgspec.Struct, mapping: dict[str, str], *, time: str) -> dict:
    """Merge the set (non-UNSET) fields of an update event into a body; bump revision."""
    new = dict(body)
    for field, attr in mapping.items():
        value = getattr(event, field)
        if value is not msgspec.UNSET:
            new[attr] = msgspec.to_builtins(value)
    return bump(new, time)


def bump(body: dict, time: str) -> dict:
    new = dict(body)
    new["revision_number"] = body.get("revision_number", 0) + 1
    new["updated_at"] = time
    return new
