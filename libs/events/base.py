"""Base classes for everything that crosses a service boundary.

Events are facts in the past tense, frozen and tagged; the tag names the shape and
its version (``PortCreated`` is version 1, ``PortCreated.v2`` would be the next).
New fields always get defaults so old messages still decode; a changed shape is a
new tag plus an upcaster in :mod:`codec`.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType  # re-exported: partial updates use UNSET

__all__ = ["Event", "Struct", "UNSET", "UnsetType"]


class Struct(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A frozen value object (nested parts of events and intents)."""


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", omit_defaults=True):
    """Base of every event; subclasses set ``tag=`` and repeat ``kw_only``/``frozen``."""
