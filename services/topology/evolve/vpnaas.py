"""Fold of VPNaaS facts and VPN worker reports into rows (pure, replay-identical).

One table per resource kind holding the Neutron body (with the PSK: Neutron returns it
to the owner) plus lookup columns; facts carry whole values, so Created and Updated
fold the same way and a replay gives the same bytes. Statuses are derived in views:
admin down -> DOWN; else the report of the host the router is scheduled to now;
else PENDING_CREATE (Neutron's state until its agent reports).
"""

from __future__ import annotations

import ipaddress

import msgspec

from netledger.libs.events import vpnaas as V
from netledger.libs.events.envelope import Envelope

from . import Delete, Put, Reader, Write, dumps

TABLES = {"ikepolicy": "ikepolicies", "ipsecpolicy": "ipsecpolicies", "vpnservice": "vpnservices",
          "endpoint_group": "endpoint_groups", "ipsec_site_connection": "ipsec_site_connections"}
_BASE = {"id": str, "project_id": str, "body": str, "seq": int}
SCHEMA = {
    "ikepolicies": (_BASE, ["id"]),
    "ipsecpolicies": (_BASE, ["id"]),
    "endpoint_groups": (_BASE, ["id"]),
    "vpnservices": ({**_BASE, "router_id": str}, ["id"]),
    "ipsec_site_connections": ({**_BASE, "router_id": str, "vpnservice_id": str}, ["id"]),
    "vpn_status": ({"kind": str, "id": str, "host": str, "status": str, "detail": str, "seq": int},
                   ["kind", "id"]),
}
INDEXES = {"vpnservices": [["router_id"]], "ipsec_site_connections": [["vpnservice_id"], ["router_id"]]}


def _status_sql(kind: str, alias: str) -> str:
    return f"""CASE WHEN json_extract({alias}.body, '$.admin_state_up') = 0 THEN 'DOWN'
        ELSE COALESCE((SELECT s.status FROM vpn_status s WHERE s.kind = '{kind}' AND s.id = {alias}.id
                       AND s.host = (SELECT r.host FROM routers r WHERE r.id = {alias}.router_id)),
                      'PENDING_CREATE') END"""


def _gw_ip_sql(version: int) -> str:
    test = "instr(json_extract(f.value, '$.ip_address'), ':') = 0" if version == 4 else \
        "instr(json_extract(f.value, '$.ip_address'), ':') > 0"
    return f"""(SELECT json_extract(f.value, '$.ip_address') FROM routers r,
        json_each(json_extract(r.body, '$.external_gateway_info.external_fixed_ips')) f
        WHERE r.id = v.router_id AND {test} LIMIT 1)"""


VIEWS = {
    "ikepolicys_v": "SELECT id, project_id, seq, body FROM ikepolicies",
    "ipsecpolicys_v": "SELECT id, project_id, seq, body FROM ipsecpolicies",
    "endpoint_groups_v": "SELECT id, project_id, seq, body FROM endpoint_groups",
    "vpnservices_v": f"""SELECT v.id, v.project_id, v.seq, v.router_id, json_set(v.body,
        '$.status', {_status_sql('vpnservice', 'v')},
        '$.external_v4_ip', {_gw_ip_sql(4)}, '$.external_v6_ip', {_gw_ip_sql(6)}) AS body FROM vpnservices v""",
    "ipsec_site_connections_v": f"""SELECT c.id, c.project_id, c.seq, c.router_id, c.vpnservice_id,
        json_set(c.body, '$.status', {_status_sql('ipsec_site_connection', 'c')}) AS body
        FROM ipsec_site_connections c""",
}


def full(value) -> object:
    """Builtins with defaults kept (the event base omits them on the wire)."""
    if isinstance(value, msgspec.Struct):
        return {f: full(getattr(value, f)) for f in value.__struct_fields__}
    if isinstance(value, (tuple, list)):
        return [full(v) for v in value]
    return value


def body_of(kind: str, value) -> dict:
    """The Neutron API body of a resource value (status and derived fields in views)."""
    body = full(value)
    body["tenant_id"] = value.project_id
    if kind == "vpnservice":
        body.update(flavor_id=None)
    elif kind == "ipsec_site_connection":
        body.pop("router_id")
        body.update(route_mode="static", auth_mode="psk")
    elif kind == "endpoint_group" and value.type == "cidr":
        body["endpoints"] = [str(ipaddress.ip_network(e, strict=False)) for e in value.endpoints]
    return body


def evolve_vpn(env: Envelope, seq: int, read: Reader) -> list[Write]:
    kind, ev = env.kind, env.event
    table = TABLES.get(kind)
    if table is None:
        return []
    if hasattr(ev, "value"):
        v = ev.value
        row = {"id": v.id, "project_id": v.project_id, "body": dumps(body_of(kind, v)), "seq": seq}
        if kind == "vpnservice":
            row["router_id"] = v.router_id
        elif kind == "ipsec_site_connection":
            row.update(router_id=v.router_id, vpnservice_id=v.vpnservice_id)
        return [Put(table=table, row=row)]
    if hasattr(ev, "id"):
        return [Delete(table=table, key={"id": ev.id}), Delete(table="vpn_status", key={"kind": kind, "id": ev.id})]
    return []


def evolve_vpn_status(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    if not isinstance(ev, V.VpnStatusReported) or ev.kind not in TABLES:
        return []
    return [Put(table="vpn_status", row={"kind": ev.kind, "id": ev.resource_id, "host": ev.host,
                                          "status": ev.status, "detail": ev.detail, "seq": seq})]


FOLDS = {kind: evolve_vpn for kind in TABLES}
STATUS_FOLDS = (evolve_vpn_status,)
