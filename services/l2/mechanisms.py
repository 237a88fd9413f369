"""Mechanism registry: backend name -> factory, imported lazily.

A mechanism wires one kind of dataplane (``openvswitch``, ``linuxbridge``).
Each lives in its own module and exposes ``create(cfg) -> Mechanism``; register it
here (or call :func:`register` from a plugin) and the worker needs no change.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol

from netledger.services.l2.config import AgentConfig
from netledger.services.l2.desired import HostDesired, PortState


class Mechanism(Protocol):
    """observe -> plan (pure) -> apply -> after (pure) -> port_states (pure)."""

    name: str
    agent_type: str

    @property
    def writes(self) -> int: ...
    async def start(self, on_port: Callable[[str], None]) -> None: ...
    async def stop(self) -> None: ...
    async def observe(self, last: Any = None) -> Any: ...   # last: what the previous batch left
    def plan(self, desired: HostDesired, observed: Any) -> list: ...
    async def apply(self, ops: list) -> None: ...
    def after(self, observed: Any, ops: list) -> Any: ...
    def port_states(self, desired: HostDesired, observed: Any) -> dict[str, PortState]: ...


_REGISTRY: dict[str, str] = {
    "openvswitch": "netledger.services.l2.ovs.mechanism:create",
    "linuxbridge": "netledger.services.l2.linuxbridge.mechanism:create",
}
ALIASES = {"ovs": "openvswitch", "lb": "linuxbridge"}


def register(name: str, target: str) -> None:
    """``target`` is ``"module.path:factory"``; the module is imported on first use."""
    _REGISTRY[name] = target


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def available() -> list[str]:
    return sorted(_REGISTRY)


def create(name: str, cfg: AgentConfig) -> Mechanism:
    target = _REGISTRY.get(canonical(name))
    if target is None:
        raise ValueError(f"L2 backend {name!r} is not available (registered: {', '.join(available())})")
    module, _, factory = target.partition(":")
    return getattr(importlib.import_module(module), factory)(cfg)
