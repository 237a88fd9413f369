"""Router commands: the reads router decisions need, and the ports routers own.

Router writes touch several aggregates (the router and its ports, with their claims),
so their plans are executed in the executor's atomic mode (writer.run_atomic_with_claims).
Used by the router, router-interface, floating IP, Octavia and VPN commands and handlers.
"""

from __future__ import annotations

import msgspec

from netledger.errors import Conflict, NotFound

from ..auth import require
from ..deciders import Plan
from ..deciders import router as decide
from . import port


def admin(ctx):
    return msgspec.structs.replace(ctx, is_admin=True)


def router_host(svc, router_id: str) -> str:
    row = svc.reader.conn.execute("SELECT host FROM routers WHERE id = ?", [router_id]).fetchone()
    return row[0] if row else ""


def interfaces(svc, router_id: str) -> list[dict]:
    rows = svc.reader.conn.execute("SELECT * FROM router_interfaces_v WHERE router_id = ? ORDER BY port_id",
                                   [router_id])
    return [dict(r) for r in rows]


def gateway_port(svc, router_id: str) -> tuple[dict, int] | None:
    row = svc.reader.conn.execute("SELECT gw_port_id FROM routers WHERE id = ?", [router_id]).fetchone()
    if not row or not row[0]:
        return None
    return svc.reader.get("port", row[0], None)


def fips_on_router(svc, router_id: str) -> list[dict]:
    rows = svc.reader.conn.execute("SELECT body FROM floatingips_v WHERE json_extract(body, '$.router_id') = ?",
                                   [router_id])
    return [msgspec.json.decode(r[0]) for r in rows]


def check_no_vpnservice(svc, router_id: str) -> None:
    """Neutron's RouterInUseByVPNService: a router carrying a VPN service (any project's) stays."""
    row = svc.reader.conn.execute("SELECT id FROM vpnservices WHERE router_id = ? ORDER BY id LIMIT 1",
                                  [router_id]).fetchone()
    if row:
        raise Conflict(f"Router {router_id} is used by VPNService {row[0]}", type="RouterInUseByVPNService")


def get_router(svc, ctx, router_id: str) -> tuple[dict, int]:
    try:
        return svc.reader.get("router", router_id, ctx.scope())
    except NotFound:
        raise NotFound(f"Router {router_id} could not be found", type="RouterNotFound") from None


def external_network(svc, network_id: str, resource: str = "router", ctx=None) -> dict:
    """The gateway's network. With ``ctx`` (routers: Neutron's _validate_gw_info looks it
    up with the caller's context) a network the caller cannot see is NetworkNotFound,
    not "not external"; floating IPs check externality without the caller's view."""
    try:
        net, _ = svc.reader.get("network", network_id, None)
        if ctx is not None and not (ctx.is_admin or net.get("project_id") == ctx.project_id
                                    or net.get("shared") or net.get("router:external")):
            svc.reader.get("network", network_id, ctx.scope("network"), shared_ok=True)   # an RBAC grant
    except NotFound:
        raise NotFound(f"Network {network_id} could not be found.", type="NetworkNotFound") from None
    decide.check_external(net, resource)
    return net


def plan_port(svc, ctx, req: dict, port_id: str, won, *, project: str | None = None) -> Plan:
    """A router-owned port decided by the port decider as an admin (the caller may not
    own the network); ``project`` "" makes it Neutron's project-less gateway port."""
    plan = port.plan_create(svc, admin(ctx), req, port_id, won)
    if project is None:
        return plan
    fact = plan.facts[0]
    ev = msgspec.structs.replace(fact.event, project_id=project)
    return msgspec.structs.replace(plan, facts=(msgspec.structs.replace(fact, event=ev), *plan.facts[1:]))


def gateway_port_plan(svc, ctx, router_id: str, gw: dict, port_id: str, won) -> Plan:
    for attr in ("enable_snat", "external_fixed_ips"):
        if attr in gw and (attr == "enable_snat" or gw[attr]):
            require(svc.policy, f"create_router:external_gateway_info:{attr}", ctx)
    external_network(svc, gw["network_id"], ctx=ctx)
    req = {"network_id": gw["network_id"], "device_owner": decide.OWNER_GATEWAY, "device_id": router_id,
           "binding:host_id": router_host(svc, router_id), "admin_state_up": True}
    if gw.get("external_fixed_ips"):
        req["fixed_ips"] = gw["external_fixed_ips"]
    return plan_port(svc, ctx, req, port_id, won, project="")


def port_delete_plan(svc, ctx, port_id: str) -> Plan:
    cur, seq = svc.reader.get("port", port_id, None)
    return port.plan_delete(svc, ctx, cur, seq)
