"""Route an envelope to the fold of its aggregate kind."""

from __future__ import annotations

from netledger.libs.events.envelope import Envelope

from . import Reader, Write
from .network import evolve_network, evolve_subnet
from .port import evolve_claim, evolve_port, evolve_status

FOLDS = {
    "network": evolve_network,
    "subnet": evolve_subnet,
    "port": evolve_port,
    "claim": evolve_claim,
}


def evolve(env: Envelope, seq: int, read: Reader, *, stream: str = "events") -> list[Write]:
    """All row writes for one message; unknown kinds fold to nothing (forward compatible)."""
    if stream == "status":
        return evolve_status(env, seq, read)
    fold = FOLDS.get(env.kind)
    return fold(env, seq, read) if fold else []
