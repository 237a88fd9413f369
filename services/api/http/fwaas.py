"""HTTP handlers for FWaaS v2: /v2.0/fwaas/firewall_rules, firewall_policies, firewall_groups.

Reads come from the projection's views (derived ``status``, ``audited``,
``firewall_policy_id``); writes go through the pure deciders in deciders/fwaas.py
and ``writer.run_atomic_with_claims`` (each fact expects its aggregate's last sequence). Shared
resources are visible to every project, as neutron-fwaas shows them.
"""

from __future__ import annotations

import ipaddress

import msgspec
from aiohttp import web

from netledger.errors import BadRequest, NotFound

from .. import attributes, extensions
from ..attributes import Attr, READ_ONLY, to_bool, to_int, to_str, to_uuid_list, validate_body
from .common import may, check_if_match, json_response, list_response, new_resource_id, read_json, respond, show
from ..deciders import fwaas as decide
from ..subnet_rules import attr_error
from ..writer import run_atomic_with_claims

BASE = "/v2.0/fwaas"
_PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "6": "tcp", "17": "udp", "1": "icmp"}


def to_protocol(value, name: str):
    if value is None or str(value).lower() == "any":
        return None
    proto = _PROTOCOLS.get(str(value).lower())
    if proto is None:
        raise BadRequest(f"Firewall Rule protocol {value} is not supported. Only protocol values tcp, udp, icmp, "
                         "any and their integer representation (1, 6, 17) are supported.",
                         type="FirewallRuleInvalidProtocol")
    return proto


def to_ip_or_net(value, name: str):
    if value is None or value == "":
        return None
    try:
        return str(ipaddress.ip_network(value, strict=False)) if "/" in str(value) else str(ipaddress.ip_address(value))
    except (ValueError, TypeError):
        raise attr_error(name, f"'{value}' is not a valid IP address or subnet") from None


def to_port_range(value, name: str):
    """"80" or "1000:2000" (0..65535, low <= high); None clears it."""
    if value is None or value == "":
        return None
    parts = str(value).split(":")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        nums = []
    if not 1 <= len(nums) <= 2 or any(not 0 <= n <= 65535 for n in nums) or nums[0] > nums[-1]:
        raise BadRequest(f"Invalid value for port {value}.", type="FirewallRuleInvalidPortValue")
    return ":".join(str(n) for n in nums) if len(nums) == 2 and nums[0] != nums[1] else str(nums[0])


def to_action(value, name: str):
    if value not in ("allow", "deny", "reject"):
        raise BadRequest(f"Firewall rule action {value} is not supported. Only action values allow, deny and "
                         "reject are supported.", type="FirewallRuleInvalidAction")
    return value


def to_ip_version(value, name: str):
    v = to_int()(value, name)
    if v not in (4, 6):
        raise attr_error(name, f"{v} is not in [4, 6]")
    return v


def to_uuid_or_none(value, name: str):
    return None if value in (None, "") else attributes.to_uuid(value, name)


_OWN = {"id": READ_ONLY, "tenant_id": attributes.TENANT, "project_id": attributes.TENANT,
        "name": Attr(to_str(255), default=""), "description": Attr(to_str(1024), default=""),
        "shared": Attr(to_bool, default=False, admin_only=True)}
RULE = {**_OWN, "protocol": Attr(to_protocol), "ip_version": Attr(to_ip_version, default=4),
        "source_ip_address": Attr(to_ip_or_net), "destination_ip_address": Attr(to_ip_or_net),
        "source_port": Attr(to_port_range), "destination_port": Attr(to_port_range),
        "action": Attr(to_action, default="deny"), "enabled": Attr(to_bool, default=True),
        "firewall_policy_id": READ_ONLY}
POLICY = {**_OWN, "firewall_rules": Attr(to_uuid_list, default=[]), "audited": Attr(to_bool, default=False)}
GROUP = {**_OWN, "ingress_firewall_policy_id": Attr(to_uuid_or_none), "egress_firewall_policy_id": Attr(to_uuid_or_none),
         "ports": Attr(to_uuid_list, default=[]), "admin_state_up": Attr(to_bool, default=True), "status": READ_ONLY}
KINDS = {"firewall_rule": ("firewall_rules", RULE, "Firewall rule"),
         "firewall_policy": ("firewall_policies", POLICY, "Firewall policy"),
         "firewall_group": ("firewall_groups", GROUP, "Firewall group")}
for _kind, (_, _spec, _) in KINDS.items():
    attributes.SPECS[_kind] = _spec
extensions.EXTENSIONS["fwaas_v2"] = "Provides support for firewall-as-a-service version 2"
extensions.NAMES["fwaas_v2"] = "Firewall service v2"


def _svc(request):
    return request.app["svc"]


def _project(ctx, req: dict) -> str:
    return req.get("project_id") or req.get("tenant_id") or ctx.project_id


def fetch(svc, ctx, kind: str, rid: str) -> tuple[dict, int]:
    """(body, seq) of a resource the caller may see (own or shared), or <Kind>NotFound."""
    try:
        return svc.reader.get(kind, rid, ctx.scope(), shared_ok=True)
    except NotFound:
        title = KINDS[kind][2]
        raise NotFound(f"{title} {rid} could not be found.",
                       type=title.title().replace(" ", "") + "NotFound") from None


def _policies_using(svc, rule_id: str) -> list[str]:
    rows = svc.reader.conn.execute("SELECT p.id FROM firewall_policies p, json_each(json_extract(p.body, "
                                   "'$.firewall_rules')) j WHERE j.value = ?", [rule_id])
    return [r[0] for r in rows]


def _groups_using(svc, policy_id: str) -> list[str]:
    rows = svc.reader.conn.execute("SELECT id FROM firewall_groups WHERE ingress_policy_id = ? "
                                   "OR egress_policy_id = ?", [policy_id, policy_id])
    return [r[0] for r in rows]


def _port_facts(svc, ports: list[str]) -> tuple[dict[str, dict], dict[str, str]]:
    """(port id -> owner and router project, port id -> group holding it)."""
    found, taken = {}, {}
    for pid in ports:
        row = svc.reader.conn.execute("SELECT p.body, r.project_id FROM ports p LEFT JOIN routers r "
                                      "ON r.id = p.device_id WHERE p.id = ?", [pid]).fetchone()
        if row:
            body = msgspec.json.decode(row[0])
            found[pid] = {"device_owner": body.get("device_owner", ""), "project_id": row[1] or body["project_id"]}
        held = svc.reader.conn.execute("SELECT g.id FROM firewall_groups g, json_each(json_extract(g.body, "
                                       "'$.ports')) j WHERE j.value = ?", [pid]).fetchone()
        if held:
            taken[pid] = held[0]
    return found, taken


def _check_refs(svc, ctx, kind: str, req: dict, group_id: str, project: str) -> None:
    """Rules of a policy and policies of a group must exist and be visible; group ports valid."""
    if kind == "firewall_policy":
        for rid in req.get("firewall_rules") or []:
            fetch(svc, ctx, "firewall_rule", rid)
    if kind == "firewall_group":
        for attr in ("ingress_firewall_policy_id", "egress_firewall_policy_id"):
            if req.get(attr):
                fetch(svc, ctx, "firewall_policy", req[attr])
        if "ports" in req:
            for pid in req["ports"]:      # fwaas looks ports up with the caller's context
                row = None if ctx.is_admin else svc.reader.row("ports", pid)
                if row is not None and row["project_id"] != ctx.project_id:
                    raise NotFound(f"Port {pid} could not be found.", type="PortNotFound")
            found, taken = _port_facts(svc, req["ports"])
            decide.check_ports(group_id, project, req["ports"], found=found, taken=taken, is_admin=ctx.is_admin)


# --- CRUD -------------------------------------------------------------------------

def _crud(kind: str):
    collection, _, _ = KINDS[kind]

    async def create(request: web.Request) -> web.Response:
        ctx, svc = request["ctx"], _svc(request)
        req = validate_body(kind, await read_json(request), create=True, may=may(request))
        rid, project = new_resource_id(ctx, kind), _project(ctx, req)

        def plan(won):
            _check_refs(svc, ctx, kind, req, rid, project)
            fn = {"firewall_rule": decide.decide_rule_create, "firewall_policy": decide.decide_policy_create,
                  "firewall_group": decide.decide_group_create}[kind]
            return fn(project, req, **{f"{kind.split('_')[1]}_id": rid}, subjects=svc.subjects)

        if not ctx.idempotency_key or svc.reader.row(f"{kind}s_v", rid) is None:
            await run_atomic_with_claims(plan, svc.writer, ctx)
        return respond(request, kind, svc.reader.get(kind, rid, None)[0], status=201)

    async def get(request: web.Request) -> web.Response:
        return show(fetch(_svc(request), request["ctx"], kind, request.match_info["id"])[0], request, kind)

    async def index(request: web.Request) -> web.Response:
        return list_response(request, _svc(request).reader, kind, collection, frozenset(KINDS[kind][1]),
                             shared_visible=True)

    async def update(request: web.Request) -> web.Response:
        ctx, svc = request["ctx"], _svc(request)
        changes = validate_body(kind, await read_json(request), create=False, may=may(request))
        rid = request.match_info["id"]

        def plan(won):
            cur, seq = _owned(svc, ctx, kind, rid)
            check_if_match(request, cur)
            _check_refs(svc, ctx, kind, changes, rid, cur["project_id"])
            fn = {"firewall_rule": decide.decide_rule_update, "firewall_policy": decide.decide_policy_update,
                  "firewall_group": decide.decide_group_update}[kind]
            return fn(cur, seq, changes, subjects=svc.subjects)

        await run_atomic_with_claims(plan, svc.writer, ctx)
        return respond(request, kind, svc.reader.get(kind, rid, None)[0])

    async def delete(request: web.Request) -> web.Response:
        ctx, svc = request["ctx"], _svc(request)
        rid = request.match_info["id"]

        def plan(won):
            cur, seq = _owned(svc, ctx, kind, rid)
            if kind == "firewall_rule":
                return decide.decide_rule_delete(cur, seq, used_by=_policies_using(svc, rid), subjects=svc.subjects)
            if kind == "firewall_policy":
                return decide.decide_policy_delete(cur, seq, used_by=_groups_using(svc, rid), subjects=svc.subjects)
            return decide.decide_group_delete(cur, seq, subjects=svc.subjects)

        await run_atomic_with_claims(plan, svc.writer, ctx)
        return web.Response(status=204)

    return create, get, index, update, delete


def _owned(svc, ctx, kind: str, rid: str) -> tuple[dict, int]:
    """Writes need ownership (or admin): a shared resource of another project is read-only."""
    cur, seq = fetch(svc, ctx, kind, rid)
    if not ctx.is_admin and cur["project_id"] != ctx.project_id:
        raise NotFound(f"{KINDS[kind][2]} {rid} could not be found.",
                       type=KINDS[kind][2].title().replace(" ", "") + "NotFound")
    return cur, seq


async def _rule_action(request: web.Request) -> web.Response:
    """PUT .../firewall_policies/{id}/insert_rule|remove_rule; answers the policy (unwrapped)."""
    ctx, svc = request["ctx"], _svc(request)
    pid, action = request.match_info["id"], request.match_info["action"]
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("Missing rule info argument for insert/remove rule operation.", type="FirewallRuleInfoMissing")
    rule_id = body.get("firewall_rule_id") or ""

    def plan(won):
        cur, seq = _owned(svc, ctx, "firewall_policy", pid)
        if rule_id:
            fetch(svc, ctx, "firewall_rule", rule_id)
        if action == "remove_rule":
            return decide.decide_remove_rule(cur, seq, rule_id=rule_id, subjects=svc.subjects)
        return decide.decide_insert_rule(cur, seq, rule_id=rule_id, before=body.get("insert_before") or "",
                                         after=body.get("insert_after") or "", subjects=svc.subjects)

    await run_atomic_with_claims(plan, svc.writer, ctx)
    return json_response(svc.reader.get("firewall_policy", pid, None)[0])


def add_routes(router) -> None:
    for kind, (collection, _, _) in KINDS.items():
        create, get, index, update, delete = _crud(kind)
        router.add_get(f"{BASE}/{collection}", index)
        router.add_post(f"{BASE}/{collection}", create)
        router.add_get(f"{BASE}/{collection}/{{id}}", get)
        router.add_put(f"{BASE}/{collection}/{{id}}", update)
        router.add_delete(f"{BASE}/{collection}/{{id}}", delete)
    router.add_put(f"{BASE}/firewall_policies/{{id}}/{{action:insert_rule|remove_rule}}", _rule_action)
