"""Fold of floating IP facts and their status reports (pure).

The view derives what depends on other aggregates: a floating IP whose port was
deleted shows as unassociated (Neutron disassociates on port delete), and
``port_details``/``status`` come from the port and the serving router's host.
"""

from __future__ import annotations

from netledger.libs.events.envelope import Envelope
from netledger.libs.events.floatingip import (
    FloatingIpAssociated, FloatingIpCreated, FloatingIpDeleted, FloatingIpDisassociated, FloatingIpUpdated,
)
from netledger.libs.events.l3_status import FloatingIpStatusReported
from netledger.libs.events.network import TagsChanged

from . import Delete, Put, Reader, Write, apply_changes, bump, dumps, loads

SCHEMA = {
    "floatingips": ({"id": str, "project_id": str, "router_id": str, "port_id": str, "floating_network_id": str,
                     "floating_port_id": str, "body": str, "seq": int}, ["id"]),
    "floatingip_status": ({"floatingip_id": str, "host": str, "status": str, "time": str, "seq": int},
                          ["floatingip_id"]),
}
INDEXES = {"floatingips": [["router_id"], ["port_id"], ["floating_network_id"], ["project_id"]]}
_PORT_DETAILS = """json_object('name', json_extract(p.body, '$.name'), 'network_id', p.network_id,
      'mac_address', p.mac_address,
      'admin_state_up', json(CASE WHEN json_extract(p.body, '$.admin_state_up') THEN 'true' ELSE 'false' END),
      'status', (SELECT json_extract(v.body, '$.status') FROM ports_v v WHERE v.id = p.id),
      'device_id', p.device_id, 'device_owner', json_extract(p.body, '$.device_owner'))"""
VIEWS = {
    "floatingips_v": f"""
        SELECT f.id, f.project_id, f.seq, CASE
          WHEN p.id IS NULL THEN json_set(f.body, '$.port_id', NULL, '$.fixed_ip_address', NULL,
                                          '$.router_id', NULL, '$.status', 'DOWN', '$.port_details', NULL)
          ELSE json_set(f.body, '$.status', COALESCE((SELECT s.status FROM floatingip_status s, routers r
                  WHERE s.floatingip_id = f.id AND r.id = f.router_id AND s.host = r.host), 'DOWN'),
                '$.port_details', {_PORT_DETAILS}) END AS body
        FROM floatingips f LEFT JOIN ports p ON p.id = f.port_id AND f.port_id != ''""",
}


def _assoc(port_id: str, fixed: str, router_id: str) -> dict:
    return {"port_id": port_id or None, "fixed_ip_address": fixed or None, "router_id": router_id or None}


def fip_body(ev: FloatingIpCreated, env: Envelope) -> dict:
    return {
        "id": ev.floatingip_id, "tenant_id": ev.project_id, "project_id": ev.project_id,
        "floating_network_id": ev.floating_network_id, "floating_ip_address": ev.floating_ip_address,
        "description": ev.description, **_assoc(ev.port_id, ev.fixed_ip_address, ev.router_id),
        "port_forwardings": [], "qos_policy_id": None, "tags": sorted(ev.tags),
        "created_at": env.time, "updated_at": env.time, "revision_number": 1,
    }


def _row(body: dict, seq: int, floating_port_id: str) -> dict:
    return {"id": body["id"], "project_id": body["project_id"], "router_id": body["router_id"] or "",
            "port_id": body["port_id"] or "", "floating_network_id": body["floating_network_id"],
            "floating_port_id": floating_port_id, "body": dumps(body), "seq": seq}


def evolve_floatingip(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    if isinstance(ev, FloatingIpCreated):
        return [Put(table="floatingips", row=_row(fip_body(ev, env), seq, ev.floating_port_id))]
    cur = read("floatingips", env.aggregate_id)
    if cur is None:
        return []
    if isinstance(ev, FloatingIpDeleted):
        return [Delete(table="floatingips", key={"id": ev.floatingip_id})]
    body = loads(cur["body"])
    match ev:
        case FloatingIpAssociated():
            body = bump({**body, **_assoc(ev.port_id, ev.fixed_ip_address, ev.router_id)}, env.time)
        case FloatingIpDisassociated():
            body = bump({**body, **_assoc("", "", "")}, env.time)
        case FloatingIpUpdated():
            body = apply_changes(body, ev, {"description": "description"}, time=env.time)
        case TagsChanged():
            body = bump({**body, "tags": sorted(ev.tags)}, env.time)
    return [Put(table="floatingips", row=_row(body, seq, cur["floating_port_id"]))]


def evolve_floatingip_status(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    if isinstance(ev, FloatingIpStatusReported):
        return [Put(table="floatingip_status", row={"floatingip_id": ev.floatingip_id, "host": ev.host,
                                                    "status": ev.status, "time": env.time, "seq": seq})]
    return []


FOLDS = {"floatingip": evolve_floatingip}
STATUS_FOLDS = (evolve_floatingip_status,)
