"""Octavia v2 response bodies from the LB aggregate and its worker report (pure).

Provisioning status (Octavia's meaning): an object is ACTIVE once the LB worker on the
LB's host reported applying a revision >= the revision of the object's last change;
before that it is PENDING_CREATE (never applied) or PENDING_UPDATE; ERROR when the
worker failed to apply the current revision. The load balancer itself is pending while
*any* change is unapplied, which is what makes writes answer 409 meanwhile.
Operating status comes from the report (HAProxy's health); admin-down objects are
OFFLINE, objects the report does not mention yet are OFFLINE (members: NO_MONITOR
when their pool has no health monitor).
"""

from __future__ import annotations

import msgspec

from netledger.libs.events import octavia as O

PENDING = ("PENDING_CREATE", "PENDING_UPDATE", "PENDING_DELETE")


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """The LB worker's last word, as far as it counts (from the LB's current host)."""

    revision: int = 0
    provisioning: str = ""
    operating: dict[str, str] = {}


def provisioning(stamp: O.Stamp, state: O.LbState, rep: Report) -> str:
    if rep.revision >= stamp.rev and rep.revision > 0:
        if rep.provisioning == "ERROR" and rep.revision == state.revision:
            return "ERROR"
        return "ACTIVE"
    if rep.provisioning == "ERROR" and rep.revision == state.revision:
        return "ERROR"
    return "PENDING_CREATE" if stamp.created_at == stamp.updated_at else "PENDING_UPDATE"


def lb_provisioning(state: O.LbState, rep: Report) -> str:
    stamp = msgspec.structs.replace(state.lb.stamp, rev=state.revision)
    return provisioning(stamp, state, rep)


def operating(obj_id: str, admin_up: bool, rep: Report, default: str = "OFFLINE") -> str:
    if not admin_up:
        return "OFFLINE"
    return rep.operating.get(obj_id, default)


def _common(obj, state: O.LbState, rep: Report) -> dict:
    return {"id": obj.id, "project_id": obj.project_id, "tenant_id": obj.project_id,
            "provisioning_status": provisioning(obj.stamp, state, rep), "admin_state_up": obj.admin_state_up,
            "created_at": obj.stamp.created_at, "updated_at": obj.stamp.updated_at or None,
            "tags": list(obj.tags), **({"name": obj.name} if hasattr(obj, "name") else {})}


def loadbalancer_body(state: O.LbState, rep: Report) -> dict:
    lb = state.lb
    body = _common(lb, state, rep)
    body.update({
        "description": lb.description, "provisioning_status": lb_provisioning(state, rep),
        "operating_status": operating(lb.id, lb.admin_state_up, rep),
        "vip_address": lb.vip_address, "vip_port_id": lb.vip_port_id, "vip_subnet_id": lb.vip_subnet_id,
        "vip_network_id": lb.vip_network_id, "vip_qos_policy_id": None, "provider": lb.provider,
        "flavor_id": None, "availability_zone": None, "additional_vips": [], "vip_vnic_type": "normal",
        "listeners": [{"id": x.id} for x in state.listeners], "pools": [{"id": x.id} for x in state.pools]})
    return body


def listener_body(li: O.ListenerSpec, state: O.LbState, rep: Report) -> dict:
    body = _common(li, state, rep)
    body.update({
        "description": li.description, "operating_status": operating(li.id, li.admin_state_up, rep),
        "protocol": li.protocol, "protocol_port": li.protocol_port, "connection_limit": li.connection_limit,
        "default_pool_id": li.default_pool_id or None, "default_tls_container_ref": None,
        "sni_container_refs": [], "insert_headers": {}, "loadbalancers": [{"id": state.lb.id}],
        "l7policies": [{"id": p.id} for p in state.l7policies if p.listener_id == li.id],
        "timeout_client_data": li.timeout_client_data, "timeout_member_connect": li.timeout_member_connect,
        "timeout_member_data": li.timeout_member_data, "timeout_tcp_inspect": li.timeout_tcp_inspect,
        "allowed_cidrs": list(li.allowed_cidrs) or None, "client_ca_tls_container_ref": None,
        "client_authentication": "NONE", "client_crl_container_ref": None, "tls_ciphers": None,
        "tls_versions": None, "alpn_protocols": None, "hsts_max_age": None, "hsts_include_subdomains": False,
        "hsts_preload": False})
    return body


def pool_listeners(pool: O.PoolSpec, state: O.LbState) -> list[str]:
    ids = [li.id for li in state.listeners if li.default_pool_id == pool.id]
    ids += [p.listener_id for p in state.l7policies if p.redirect_pool_id == pool.id and p.listener_id not in ids]
    return ids


def pool_body(pool: O.PoolSpec, state: O.LbState, rep: Report) -> dict:
    hm = next((h for h in state.healthmonitors if h.pool_id == pool.id), None)
    body = _common(pool, state, rep)
    sp = pool.session_persistence
    body.update({
        "description": pool.description, "operating_status": operating(pool.id, pool.admin_state_up, rep),
        "protocol": pool.protocol, "lb_algorithm": pool.lb_algorithm,
        "session_persistence": ({"type": sp.type, "cookie_name": sp.cookie_name or None,
                                 "persistence_timeout": None, "persistence_granularity": None} if sp else None),
        "loadbalancers": [{"id": state.lb.id}], "listeners": [{"id": i} for i in pool_listeners(pool, state)],
        "members": [{"id": m.id} for m in state.members if m.pool_id == pool.id],
        "healthmonitor_id": hm.id if hm else None, "tls_enabled": False, "tls_container_ref": None,
        "ca_tls_container_ref": None, "crl_container_ref": None, "tls_ciphers": None, "tls_versions": None,
        "alpn_protocols": None})
    return body


def member_body(m: O.MemberSpec, state: O.LbState, rep: Report) -> dict:
    monitored = any(h.pool_id == m.pool_id for h in state.healthmonitors)
    body = _common(m, state, rep)
    body.update({
        "operating_status": operating(m.id, m.admin_state_up, rep, "OFFLINE" if monitored else "NO_MONITOR"),
        "address": m.address, "protocol_port": m.protocol_port, "weight": m.weight, "backup": m.backup,
        "subnet_id": m.subnet_id or None, "monitor_address": m.monitor_address or None,
        "monitor_port": m.monitor_port or None, "pool_id": m.pool_id, "vnic_type": "normal"})
    return body


def healthmonitor_body(h: O.HealthMonitorSpec, state: O.LbState, rep: Report) -> dict:
    body = _common(h, state, rep)
    http = h.type in ("HTTP", "HTTPS")
    body.update({
        "operating_status": "ONLINE" if h.admin_state_up else "OFFLINE", "type": h.type, "delay": h.delay,
        "timeout": h.timeout, "max_retries": h.max_retries, "max_retries_down": h.max_retries_down,
        "http_method": h.http_method if http else None, "url_path": h.url_path if http else None,
        "expected_codes": h.expected_codes if http else None, "pools": [{"id": h.pool_id}],
        "http_version": None, "domain_name": None})
    return body


def l7policy_body(p: O.L7PolicySpec, state: O.LbState, rep: Report) -> dict:
    body = _common(p, state, rep)
    body.update({
        "description": p.description, "operating_status": "ONLINE" if p.admin_state_up else "OFFLINE",
        "listener_id": p.listener_id, "action": p.action, "position": p.position,
        "redirect_pool_id": p.redirect_pool_id or None, "redirect_url": p.redirect_url or None,
        "redirect_prefix": None, "redirect_http_code": p.redirect_http_code if p.action == "REDIRECT_TO_URL" else None,
        "rules": [{"id": r.id} for r in state.l7rules if r.policy_id == p.id]})
    return body


def l7rule_body(r: O.L7RuleSpec, state: O.LbState, rep: Report) -> dict:
    body = _common(r, state, rep)          # L7 rules have no name in Octavia
    body.update({"operating_status": "ONLINE" if r.admin_state_up else "OFFLINE", "type": r.type,
                 "compare_type": r.compare_type, "key": r.key or None, "value": r.value, "invert": r.invert})
    return body


BODIES = {"listener": listener_body, "pool": pool_body, "member": member_body,
          "healthmonitor": healthmonitor_body, "l7policy": l7policy_body, "l7rule": l7rule_body}


def status_tree(state: O.LbState, rep: Report) -> dict:
    """GET /loadbalancers/{id}/status: listeners -> pools -> health monitor, members."""
    def brief(obj, body: dict) -> dict:
        return {"id": obj.id, "name": obj.name, "provisioning_status": body["provisioning_status"],
                "operating_status": body["operating_status"]}

    def pool_tree(pool: O.PoolSpec) -> dict:
        out = brief(pool, pool_body(pool, state, rep))
        hm = next((h for h in state.healthmonitors if h.pool_id == pool.id), None)
        if hm:
            out["health_monitor"] = {**brief(hm, healthmonitor_body(hm, state, rep)), "type": hm.type}
        out["members"] = [{**brief(m, member_body(m, state, rep)), "address": m.address,
                           "protocol_port": m.protocol_port} for m in state.members if m.pool_id == pool.id]
        return out

    listeners = []
    for li in state.listeners:
        pools = [pool_tree(p) for p in state.pools if li.id in pool_listeners(p, state)]
        listeners.append({**brief(li, listener_body(li, state, rep)), "pools": pools})
    lb = brief(state.lb, loadbalancer_body(state, rep))
    return {"statuses": {"loadbalancer": {**lb, "listeners": listeners}}}
