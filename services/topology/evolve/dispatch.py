"""Route an envelope to the fold of its aggregate kind."""

from __future__ import annotations

from netledger.libs.events.envelope import Envelope

from . import Reader, Write
from .network import evolve_network, evolve_subnet
from .families import family_modules
from .port import evolve_claim, evolve_port, evolve_status

FOLDS = {
    "network": evolve_network,
    "subnet": evolve_subnet,
    "port": evolve_port,
    "claim": evolve_claim,
}
# Folds of other resource families: modules under evolve/ exposing FOLDS (kind -> fold)
# and optionally STATUS_FOLDS (for worker reports of that family).
STATUS_FOLDS: list = []
for _module in family_modules():
    FOLDS.update(getattr(_module, "FOLDS", {}))
    STATUS_FOLDS.extend(getattr(_module, "STATUS_FOLDS", ()))


def evolve(env: Envelope, seq: int, read: Reader, *, stream: str = "events") -> list[Write]:
    """All row writes for one message; unknown kinds fold to nothing (forward compatible)."""
    if stream == "status":
        writes = evolve_status(env, seq, read)
        for extra in STATUS_FOLDS:
            writes = writes + extra(env, seq, read)
        return writes
    fold = FOLDS.get(env.kind)
    return fold(env, seq, read) if fold else []
