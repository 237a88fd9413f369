"""Optional resource families (routers, security groups, ...): each is a module under
``evolve/`` that may expose FOLDS, STATUS_FOLDS and its own SCHEMA/INDEXES/VIEWS."""

from __future__ import annotations

from netledger.optional import import_optional

FAMILIES = ("router", "floatingip", "security_group", "quota", "rbac", "fwaas", "vpnaas", "octavia", "dhcp")


def family_modules() -> list:
    found = []
    for name in FAMILIES:
        module = import_optional(f"{__package__}.{name}")
        if module:
            found.append(module)
    return found
