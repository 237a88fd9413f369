"""Reports from workers (status stream): what the dataplane really did."""

from __future__ import annotations

from .base import Event


class PortStatusReported(Event, tag="PortStatusReported", frozen=True, kw_only=True):
    """A host's worker wired (ACTIVE) or unwired (DOWN) a port, or failed (ERROR).

    ``revision_number`` is the port revision the worker applied; ``block`` names the
    provisioning block it clears ("l2", later "dhcp").
    """

    port_id: str
    host: str
    status: str
    block: str = "l2"
    revision_number: int = 0
    detail: str = ""


class AgentHeartbeat(Event, tag="AgentHeartbeat", frozen=True, kw_only=True):
    """A worker is alive and says what it can serve."""

    agent_id: str
    host: str
    agent_type: str
    binary: str
    backend: str = ""
    tunnel_ip: str = ""
    bridge_mappings: dict[str, str] = {}
    network_types: tuple[str, ...] = ()
    started_at: str = ""
    interval: float = 10.0
