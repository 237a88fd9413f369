"""GET /v2.0/agents: the live workers, from their heartbeats."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec
from aiohttp import web

from netledger.errors import NotFound

from .common import json_response, show

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


def _bodies(request) -> list[dict]:
    svc = request.app["svc"]
    now = datetime.now(timezone.utc)
    return [agent_body(r, lambda hb: svc.agents.alive(hb, now)) for r in svc.reader.agents()]


async def index(request: web.Request) -> web.Response:
    bodies = _bodies(request)
    for key, value in request.query.items():
        if key in ("host", "agent_type", "binary", "id"):
            bodies = [b for b in bodies if b[key] == value]
        elif key == "alive":
            bodies = [b for b in bodies if str(b["alive"]).lower() == value.lower()]
    return json_response({"agents": bodies})


async def get(request: web.Request) -> web.Response:
    for body in _bodies(request):
        if body["id"] == request.match_info["id"]:
            return show(body, request, "agent")
    raise NotFound(f"Agent {request.match_info['id']} could not be found", type="AgentNotFound")
