"""Advanced services' CLI: a small dispatcher over the families under services/advanced.

Each family (lb, fw, vpn) keeps its subcommands in ``services/advanced/<family>/cli.py``
exposing ``add_subcommands(subparsers)``; families that are absent are skipped, so
the families can be built (and shipped) independently.
"""

from __future__ import annotations

from netledger.optional import import_optional

FAMILIES = ("lb", "fw", "vpn")


def add_subcommands(subparsers) -> None:
    for family in FAMILIES:
        module = import_optional(f"{__package__}.{family}.cli")
        if module and hasattr(module, "add_subcommands"):
            module.add_subcommands(subparsers)
