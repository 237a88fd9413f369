"""Fold of router facts and L3 worker reports into rows (pure, replay-identical).

``routers`` holds the Neutron body plus lookup columns (scheduled ``host``, gateway
port and network); ``router_ports`` one row per interface. Every router fact moves
the row's ``seq`` (the router subject's last sequence, which API writes expect),
including ``RouterScheduled``, which changes no Neutron attribute.
"""

from __future__ import annotations

import msgspec

from netledger.libs.events.envelope import Envelope
from netledger.libs.events.l3_status import RouterStatusReported
from netledger.libs.events.network import TagsChanged
from netledger.libs.events.router import (
    RouterCreated, RouterDeleted, RouterGatewayCleared, RouterGatewaySet, RouterInterfaceAdded,
    RouterInterfaceRemoved, RouterScheduled, RouterUpdated,
)

from . import Delete, Put, Reader, Write, apply_changes, bump, dumps, loads

ROUTER_FIELDS = {"name": "name", "description": "description", "admin_state_up": "admin_state_up",
                 "routes": "routes"}

SCHEMA = {
    "routers": ({"id": str, "project_id": str, "host": str, "gw_port_id": str, "gw_network_id": str,
                 "body": str, "seq": int}, ["id"]),
    "router_ports": ({"router_id": str, "port_id": str, "subnet_id": str, "network_id": str},
                     ["router_id", "port_id"]),
    "router_status": ({"router_id": str, "host": str, "status": str, "revision": int, "detail": str,
                       "time": str, "seq": int}, ["router_id"]),
}
INDEXES = {"routers": [["host"], ["gw_network_id"], ["project_id"]],
           "router_ports": [["subnet_id"], ["network_id"], ["port_id"]]}
VIEWS = {
    # Neutron shows ACTIVE until an agent says otherwise; a report counts only when it
    # comes from the host the router is scheduled to now.
    "routers_v": """
        SELECT r.id, r.project_id, r.seq, r.host, json_set(r.body, '$.status',
          CASE WHEN json_extract(r.body, '$.admin_state_up') = 0 THEN 'DOWN'
               ELSE COALESCE((SELECT s.status FROM router_status s WHERE s.router_id = r.id AND s.host = r.host),
                             'ACTIVE') END) AS body FROM routers r""",
    "router_interfaces_v": """
        SELECT rp.router_id, rp.port_id, rp.subnet_id, rp.network_id, s.cidr,
               json_extract(s.body, '$.gateway_ip') AS gateway_ip
        FROM router_ports rp JOIN subnets s ON s.id = rp.subnet_id""",
}


def router_body(ev: RouterCreated, env: Envelope) -> dict:
    return {
        "id": ev.router_id, "name": ev.name, "description": ev.description,
        "tenant_id": ev.project_id, "project_id": ev.project_id, "admin_state_up": ev.admin_state_up,
        "external_gateway_info": None, "routes": msgspec.to_builtins(ev.routes),
        "distributed": False, "ha": False, "flavor_id": None,
        "availability_zone_hints": [], "availability_zones": [], "tags": sorted(ev.tags),
        "created_at": env.time, "updated_at": env.time, "revision_number": 1,
    }


def _row(cur: dict, body: dict, seq: int, **cols) -> dict:
    row = {k: cur[k] for k in ("id", "project_id", "host", "gw_port_id", "gw_network_id")}
    row.update(cols)
    return {**row, "body": dumps(body), "seq": seq}


def evolve_router(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    if isinstance(ev, RouterCreated):
        body = router_body(ev, env)
        return [Put(table="routers", row={"id": ev.router_id, "project_id": ev.project_id, "host": "",
                                          "gw_port_id": "", "gw_network_id": "", "body": dumps(body), "seq": seq})]
    cur = read("routers", env.aggregate_id)
    if cur is None:
        return []
    if isinstance(ev, RouterDeleted):
        return [Delete(table="routers", key={"id": ev.router_id}),
                Delete(table="router_ports", key={"router_id": ev.router_id})]
    body, extra, cols = loads(cur["body"]), [], {}
    match ev:
        case RouterUpdated():
            body = apply_changes(body, ev, ROUTER_FIELDS, time=env.time)
        case TagsChanged():
            body = bump({**body, "tags": sorted(ev.tags)}, env.time)
        case RouterGatewaySet():
            info = {"network_id": ev.network_id, "enable_snat": ev.enable_snat,
                    "external_fixed_ips": msgspec.to_builtins(ev.external_fixed_ips)}
            body = bump({**body, "external_gateway_info": info}, env.time)
            cols = {"gw_port_id": ev.port_id, "gw_network_id": ev.network_id}
        case RouterGatewayCleared():
            body = bump({**body, "external_gateway_info": None}, env.time)
            cols = {"gw_port_id": "", "gw_network_id": ""}
        case RouterInterfaceAdded():
            body = bump(body, env.time)
            extra = [Put(table="router_ports", row={"router_id": ev.router_id, "port_id": ev.port_id,
                                                    "subnet_id": ev.subnet_id, "network_id": ev.network_id})]
        case RouterInterfaceRemoved():
            body = bump(body, env.time)
            extra = [Delete(table="router_ports", key={"router_id": ev.router_id, "port_id": ev.port_id})]
        case RouterScheduled():
            cols = {"host": ev.host}
    return [Put(table="routers", row=_row(cur, body, seq, **cols)), *extra]


def evolve_router_status(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    if isinstance(ev, RouterStatusReported):
        return [Put(table="router_status", row={"router_id": ev.router_id, "host": ev.host, "status": ev.status,
                                                "revision": ev.revision, "detail": ev.detail, "time": env.time,
                                                "seq": seq})]
    return []


FOLDS = {"router": evolve_router}
STATUS_FOLDS = (evolve_router_status,)
