"""``GET /openapi.json``: an OpenAPI 3 description of the implemented Neutron API,
derived from the same attribute rules that validate requests (so it cannot drift)."""

from __future__ import annotations

from aiohttp import web

from .. import attributes
from .common import json_response

COLLECTIONS = {
    "network": "networks", "subnet": "subnets", "port": "ports", "router": "routers",
    "floatingip": "floatingips", "security_group": "security-groups",
    "security_group_rule": "security-group-rules",
}
ERROR = {"type": "object", "required": ["NeutronError"], "properties": {"NeutronError": {
    "type": "object", "required": ["type", "message"],
    "properties": {"type": {"type": "string"}, "message": {"type": "string"}, "detail": {"type": "string"}}}}}


def attr_schema(rule: attributes.Attr) -> dict:
    """JSON schema of one attribute, read off its converter."""
    name = getattr(rule.convert, "__qualname__", "")
    if name == "to_bool":
        return {"type": "boolean"}
    if name.startswith("to_int"):
        return {"type": "integer"}
    if name.startswith("to_str") or name in ("to_mac",):
        return {"type": "string", "nullable": True}
    if name == "to_uuid":
        return {"type": "string", "format": "uuid"}
    if name in ("to_tags", "to_str_list", "to_uuid_list", "to_list"):
        return {"type": "array"}
    if name == "to_dict":
        return {"type": "object"}
    return {}


def resource_schemas(kind: str, spec: dict) -> tuple[dict, dict, dict]:
    """(create body, update body, resource) schemas."""
    def body(create: bool) -> dict:
        props = {n: attr_schema(r) for n, r in spec.items() if (r.create if create else r.update)}
        required = [n for n, r in spec.items() if create and r.default is attributes.REQUIRED]
        inner = {"type": "object", "properties": props, "additionalProperties": False}
        if required:
            inner["required"] = required
        return {"type": "object", "required": [kind], "properties": {kind: inner}}
    resource = {"type": "object", "required": ["id"], "properties": {n: attr_schema(r) for n, r in spec.items()}}
    return body(True), body(False), resource


def _responses(ok: str, schema: dict | None) -> dict:
    out = {ok: {"description": "success"}}
    if schema:
        out[ok]["content"] = {"application/json": {"schema": schema}}
    for code in ("400", "404", "409", "412"):
        out[code] = {"description": "Neutron error", "content": {"application/json": {"schema": ERROR}}}
    return out


def document() -> dict:
    paths: dict = {}
    for kind, coll in COLLECTIONS.items():
        spec = attributes.SPECS.get(kind)
        if spec is None:
            continue
        create, update, resource = resource_schemas(kind, spec)
        one = {"type": "object", "properties": {kind: resource}}
        many = {"type": "object", "properties": {coll.replace("-", "_"): {"type": "array", "items": resource}}}
        body = lambda s: {"required": True, "content": {"application/json": {"schema": s}}}  # noqa: E731
        paths[f"/v2.0/{coll}"] = {
            "get": {"operationId": f"list_{kind}s", "responses": _responses("200", many)},
            "post": {"operationId": f"create_{kind}", "requestBody": body(create), "responses": _responses("201", one)},
        }
        item = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
        paths[f"/v2.0/{coll}/{{id}}"] = {
            "parameters": [item],
            "get": {"operationId": f"show_{kind}", "responses": _responses("200", one)},
            "put": {"operationId": f"update_{kind}", "requestBody": body(update), "responses": _responses("200", one)},
            "delete": {"operationId": f"delete_{kind}", "responses": _responses("204", None)},
        }
    return {"openapi": "3.0.3", "info": {"title": "netledger (OpenStack Networking v2.0)", "version": "2.0"},
            "paths": paths}


async def serve(request: web.Request) -> web.Response:
    return json_response(document())


def add_routes(router) -> None:
    router.add_get("/openapi.json", serve)
