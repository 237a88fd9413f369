"""GET /v2.0/agents: the live workers, from their heartbeats."""

from __future__ import annotations

from aiohttp import web

from netledger.errors import NotFound

from ..auth import permits
from ..commands import agent as agents
from .common import json_response, show


def _bodies(request) -> list[dict]:
    """Only agents the caller may see (Neutron's get_agent, admin-only by default): a
    list filters the others out and a show is 404, as Neutron hides what it cannot show."""
    svc = request.app["svc"]
    bodies = agents.bodies(svc, svc.reader.agents())
    return [b for b in bodies if permits(svc.policy, "get_agent", request["ctx"], b)]


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
