"""HTTP handlers for VPNaaS under /v2.0/vpn/ (vpnaas, vpn-endpoint-groups).

Five resource kinds share one CRUD path: validate the body (attribute specs below),
build the whole resource value, run the cross-resource checks against the projection,
and publish one fact expecting the resource's last sequence (``run_atomic_with_claims`` re-reads
and decides again on a lost race, then waits for read-your-writes). The PSK is sealed
before it enters a fact and opened only for response bodies, as Neutron returns it
(vpn_secrets); deleting a connection shreds its key. It is never logged (request logs
carry method, path and status only).
"""

from __future__ import annotations

from aiohttp import web

from netledger.errors import NotFound

from .. import attributes, extensions, vpn_secrets
from ..attributes import COMMON, READ_ONLY, REQUIRED, Attr, only_empty, to_bool, to_int, to_str_list, to_uuid
from .common import may, list_response, new_resource_id, read_json, respond, show
from ..deciders import vpnaas as decide
from ..deciders.network import _project
from ..writer import run_atomic_with_claims
from ..commands.router import interfaces


def _uuid_or_none(value, name: str):
    return None if value in (None, "") else to_uuid(value, name)


SPECS = {
    "ikepolicy": {
        **COMMON, "auth_algorithm": Attr(decide.one_of(decide.AUTH), default="sha1"),
        "encryption_algorithm": Attr(decide.one_of(decide.ENCRYPTION), default="aes-128"),
        "phase1_negotiation_mode": Attr(decide.one_of(("main", "aggressive")), default="main"),
        "ike_version": Attr(decide.one_of(("v1", "v2")), default="v1"),
        "pfs": Attr(decide.one_of(decide.PFS), default="group5"),
        "lifetime": Attr(decide.to_lifetime, default={"units": "seconds", "value": 3600})},
    "ipsecpolicy": {
        **COMMON, "transform_protocol": Attr(decide.one_of(("esp", "ah", "ah-esp")), default="esp"),
        "auth_algorithm": Attr(decide.one_of(decide.AUTH), default="sha1"),
        "encryption_algorithm": Attr(decide.one_of(decide.ENCRYPTION), default="aes-128"),
        "encapsulation_mode": Attr(decide.one_of(("tunnel", "transport")), default="tunnel"),
        "pfs": Attr(decide.one_of(decide.PFS), default="group5"),
        "lifetime": Attr(decide.to_lifetime, default={"units": "seconds", "value": 3600})},
    "vpnservice": {
        **COMMON, "router_id": Attr(to_uuid, update=False, default=REQUIRED),
        "subnet_id": Attr(_uuid_or_none, update=False, default=None),
        "admin_state_up": Attr(to_bool, default=True), "external_v4_ip": READ_ONLY, "external_v6_ip": READ_ONLY,
        "flavor_id": Attr(only_empty, update=False)},
    "endpoint_group": {
        **COMMON, "type": Attr(decide.one_of(("subnet", "cidr", "vlan", "network", "router")), update=False,
                               default=REQUIRED),
        "endpoints": Attr(to_str_list, update=False, default=[])},
    "ipsec_site_connection": {
        **COMMON, "vpnservice_id": Attr(to_uuid, update=False, default=REQUIRED),
        "ikepolicy_id": Attr(to_uuid, update=False, default=REQUIRED),
        "ipsecpolicy_id": Attr(to_uuid, update=False, default=REQUIRED),
        "peer_address": Attr(decide.to_peer_address, default=REQUIRED),
        "peer_id": Attr(decide.to_ident, default=REQUIRED), "psk": Attr(decide.to_psk, default=REQUIRED),
        "local_id": Attr(decide.to_ident, default=""), "peer_cidrs": Attr(decide.to_cidrs, default=[]),
        "local_ep_group_id": Attr(_uuid_or_none, default=None), "peer_ep_group_id": Attr(_uuid_or_none, default=None),
        "mtu": Attr(to_int(68, 65535), default=1500),
        "initiator": Attr(decide.one_of(("bi-directional", "response-only")), default="bi-directional"),
        "dpd": Attr(decide.to_dpd, default={}), "admin_state_up": Attr(to_bool, default=True),
        "route_mode": READ_ONLY, "auth_mode": READ_ONLY},
}
attributes.SPECS.update(SPECS)
COLLECTIONS = {"ikepolicy": "ikepolicies", "ipsecpolicy": "ipsecpolicies", "vpnservice": "vpnservices",
               "endpoint_group": "endpoint-groups", "ipsec_site_connection": "ipsec-site-connections"}
BODY_LIST = {"endpoint_group": "endpoint_groups", "ipsec_site_connection": "ipsec_site_connections"}
NOT_FOUND = {"ikepolicy": ("IKEPolicy", "IKEPolicyNotFound"), "ipsecpolicy": ("IPsecPolicy", "IPsecPolicyNotFound"),
             "vpnservice": ("VPNService", "VPNServiceNotFound"),
             "endpoint_group": ("Endpoint group", "EndpointGroupNotFound"),
             "ipsec_site_connection": ("IPsec site connection", "IPsecSiteConnectionNotFound")}
for alias, name, desc in (("vpnaas", "VPN service", "Extension for VPN service"),
                          ("vpn-endpoint-groups", "VPN Endpoint Groups", "VPN endpoint groups support")):
    extensions.EXTENSIONS[alias], extensions.NAMES[alias] = desc, name


# --- reads -----------------------------------------------------------------------

def get_resource(svc, ctx, kind: str, rid: str) -> tuple[dict, int]:
    try:
        return svc.reader.get(kind, rid, ctx.scope())
    except NotFound:
        pretty, etype = NOT_FOUND[kind]
        raise NotFound(f"{pretty} {rid} could not be found.", type=etype) from None


def users(svc, kind: str, rid: str) -> int:
    """How many site connections reference this resource (Neutron's *InUse checks)."""
    attrs = {"ikepolicy": ("ikepolicy_id",), "ipsecpolicy": ("ipsecpolicy_id",),
             "vpnservice": ("vpnservice_id",), "endpoint_group": ("local_ep_group_id", "peer_ep_group_id")}.get(kind)
    if not attrs:
        return 0
    where = " OR ".join(f"json_extract(body, '$.{a}') = ?" for a in attrs)
    return svc.reader.conn.execute(f"SELECT count(*) FROM ipsec_site_connections WHERE {where}",
                                   [rid] * len(attrs)).fetchone()[0]


def check(svc, ctx, kind: str, value) -> None:
    """Cross-resource rules for a new or changed value."""
    if kind in ("ikepolicy", "ipsecpolicy"):
        decide.check_supported(kind, value)
    elif kind == "endpoint_group":
        decide.check_endpoint_group(value)
        if value.type == "subnet":
            for sid in value.endpoints:
                svc.reader.get("subnet", sid, ctx.scope())
    elif kind == "vpnservice":
        router, _ = _router(svc, ctx, value.router_id)
        decide.check_service(value, router, {i["subnet_id"] for i in interfaces(svc, value.router_id)})
    elif kind == "ipsec_site_connection":
        service, _ = get_resource(svc, ctx, "vpnservice", value.vpnservice_id)
        get_resource(svc, ctx, "ikepolicy", value.ikepolicy_id)
        get_resource(svc, ctx, "ipsecpolicy", value.ipsecpolicy_id)
        groups = [get_resource(svc, ctx, "endpoint_group", g)[0] if g else None
                  for g in (value.local_ep_group_id, value.peer_ep_group_id)]
        router, _ = _router(svc, ctx, service["router_id"])
        decide.check_connection(value, service=service, router=router, local_group=groups[0], peer_group=groups[1],
                                router_subnets={i["subnet_id"] for i in interfaces(svc, router["id"])})


def _router(svc, ctx, rid: str) -> tuple[dict, int]:
    try:
        return svc.reader.get("router", rid, ctx.scope())
    except NotFound:
        raise NotFound(f"Router {rid} could not be found", type="RouterNotFound") from None


def _fields(svc, kind: str, base: dict) -> dict:
    """Values the body does not carry: a connection's router (from its service)."""
    if kind == "ipsec_site_connection":
        row = svc.reader.conn.execute("SELECT router_id FROM vpnservices WHERE id = ?",
                                      [base["vpnservice_id"]]).fetchone()
        base = {**base, "router_id": row[0] if row else ""}
    return base


# --- CRUD ------------------------------------------------------------------------

def crud(kind: str):
    async def create(request: web.Request) -> web.Response:
        ctx, svc = request["ctx"], request.app["svc"]
        req = attributes.validate_body(kind, await read_json(request), create=True, may=may(request))
        rid = new_resource_id(ctx, kind)
        if kind == "ipsec_site_connection":
            req["psk"] = await vpn_secrets.seal_psk(svc, rid, req["psk"])
        fields = _fields(svc, kind, {**req, "id": rid, "project_id": _project(ctx, req)})

        def plan(won):
            value = decide.build(kind, fields)
            check(svc, ctx, kind, value)
            return decide.decide_create(kind, value, svc.subjects)

        try:
            if not ctx.idempotency_key or svc.reader.row(f"{kind}s_v", rid) is None:
                await run_atomic_with_claims(plan, svc.writer, ctx)
        except Exception:
            if kind == "ipsec_site_connection" and svc.reader.row(f"{kind}s_v", rid) is None:
                await vpn_secrets.destroy(svc, rid)     # rejected: its fresh key must not linger
            raise
        body, _ = svc.reader.get(kind, rid, None)
        return respond(request, kind, await vpn_secrets.reveal(svc, body), status=201)

    async def get(request: web.Request) -> web.Response:
        ctx, svc = request["ctx"], request.app["svc"]
        body, _ = get_resource(svc, ctx, kind, request.match_info["id"])
        return show(await vpn_secrets.reveal(svc, body), request, kind)

    async def index(request: web.Request) -> web.Response:
        svc, post = request.app["svc"], None
        if kind == "ipsec_site_connection":
            await vpn_secrets.prefetch(svc, vpn_secrets.visible_key_ids(svc, request["ctx"].scope(kind)))
            post = lambda body: vpn_secrets.reveal_cached(svc, body)  # noqa: E731
        return list_response(request, svc.reader, kind, BODY_LIST.get(kind, COLLECTIONS[kind]),
                             frozenset(SPECS[kind]), post=post)

    async def update(request: web.Request) -> web.Response:
        ctx, svc = request["ctx"], request.app["svc"]
        changes = attributes.validate_body(kind, await read_json(request), create=False, may=may(request))
        rid = request.match_info["id"]
        if kind == "ipsec_site_connection" and "psk" in changes:
            get_resource(svc, ctx, kind, rid)            # 404 before any key is made
            changes["psk"] = vpn_secrets.full(await vpn_secrets.seal_psk(svc, rid, changes["psk"]))

        def plan(won):
            cur, seq = get_resource(svc, ctx, kind, rid)
            merged = {**cur, **changes}
            for nested in ("dpd", "lifetime"):
                if nested in changes:
                    merged[nested] = {**cur[nested], **changes[nested]}
            old, new = decide.build(kind, _fields(svc, kind, cur)), decide.build(kind, _fields(svc, kind, merged))
            if new != old:
                check(svc, ctx, kind, new)
            return decide.decide_update(kind, old, new, seq, svc.subjects, users=users(svc, kind, rid))

        await run_atomic_with_claims(plan, svc.writer, ctx)
        body, _ = svc.reader.get(kind, rid, None)
        return respond(request, kind, await vpn_secrets.reveal(svc, body))

    async def delete(request: web.Request) -> web.Response:
        ctx, svc = request["ctx"], request.app["svc"]
        rid = request.match_info["id"]

        def plan(won):
            _, seq = get_resource(svc, ctx, kind, rid)
            return decide.decide_delete(kind, rid, seq, svc.subjects, users=users(svc, kind, rid))

        await run_atomic_with_claims(plan, svc.writer, ctx)
        if kind == "ipsec_site_connection":
            await vpn_secrets.destroy(svc, rid)          # after the fact: the secret is gone for good
        return web.Response(status=204)

    return create, get, index, update, delete


def add_routes(router) -> None:
    for kind, coll in COLLECTIONS.items():
        create, get, index, update, delete = crud(kind)
        base = f"/v2.0/vpn/{coll}"
        router.add_get(base, index)
        router.add_post(base, create)
        router.add_get(base + "/{id}", get)
        router.add_put(base + "/{id}", update)
        router.add_delete(base + "/{id}", delete)

