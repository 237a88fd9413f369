"""Agent reads: an agent's body from its heartbeat row (alive as of the caller's now)."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec


_AGENT_TOPIC = {"Open vSwitch agent": "N/A", "Linux bridge agent": "N/A"}


def agent_body(row, alive_fn) -> dict:
    hb = msgspec.json.decode(row["body"])
    return {
        "id": row["id"], "agent_type": row["agent_type"], "binary": row["binary"], "host": row["host"],
        "topic": _AGENT_TOPIC.get(row["agent_type"], "N/A"), "admin_state_up": True,
        "alive": alive_fn(row["last_heartbeat"]), "heartbeat_timestamp": row["last_heartbeat"].replace("T", " ").rstrip("Z"),
        "started_at": (hb.get("started_at") or row["last_heartbeat"]).replace("T", " ").rstrip("Z"),
        "created_at": (hb.get("started_at") or row["last_heartbeat"]).replace("T", " ").rstrip("Z"),
        "availability_zone": None, "description": None, "resources_synced": None,
        "configurations": {"backend": hb.get("backend", ""), "tunnel_ip": hb.get("tunnel_ip", ""),
                           "bridge_mappings": hb.get("bridge_mappings", {}),
                           "tunnel_types": [t for t in hb.get("network_types", []) if t in ("vxlan", "gre", "geneve")],
                           "network_types": hb.get("network_types", [])},
    }


def bodies(svc, rows) -> list[dict]:
    """Bodies of these heartbeat rows, alive judged at one reading of the clock."""
    now = datetime.now(timezone.utc)
    return [agent_body(r, lambda hb: svc.agents.alive(hb, now)) for r in rows]
