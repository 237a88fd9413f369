"""Optional resource families (routers, security groups, ...): each is a module under
``evolve/`` that may expose FOLDS, STATUS_FOLDS and its own SCHEMA/INDEXES/VIEWS."""

from __future__ import annotations

import importlib

FAMILIES = ("router", "floatingip", "security_group", "quota", "rbac", "fwaas", "vpnaas", "octavia", "dhcp")


def family_modules() -> list:
    found = []
    for name in FAMILIES:
        try:
            found.append(importlib.import_module(f"{__package__}.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{name}":
                raise
    return found
