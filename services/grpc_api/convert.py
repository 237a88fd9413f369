"""Pure conversions between Neutron REST exchanges and netledger.v1 messages."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import grpc
from google.protobuf import json_format, struct_pb2

# (gRPC service name, REST collection, REST member key)
COLLECTIONS = (
    ("Networks", "networks", "network"),
    ("Subnets", "subnets", "subnet"),
    ("Ports", "ports", "port"),
    ("Routers", "routers", "router"),
    ("FloatingIps", "floatingips", "floatingip"),
    ("SecurityGroups", "security-groups", "security_group"),
)

# Metadata forwarded to the REST request as headers (the REST API's own auth,
# project, role and idempotency headers); everything else stays gRPC's.
FORWARDED = ("x-auth-token", "x-project-id", "x-tenant-id", "x-user-id", "x-roles", "x-idempotency-key",
             "x-domain-id", "x-identity-status", "x-service-catalog")


def to_struct(value: dict) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(value)
    return out


def _integral(value):
    """Struct numbers are doubles: give the REST API back the integers it expects."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def from_struct(value: struct_pb2.Struct) -> dict:
    return _integral(json_format.MessageToDict(value))


def headers_from_metadata(metadata) -> dict:
    return {key.title(): value for key, value in (metadata or ()) if key.lower() in FORWARDED}


def query_string(pairs) -> str:
    return ("?" + urlencode(list(pairs))) if pairs else ""


def member_path(collection: str, rid: str) -> str:
    return f"/v2.0/{collection}/{quote(rid, safe='')}"


def status_code(http: int, error_type: str, method: str) -> grpc.StatusCode:
    """Neutron's HTTP status (and error type, for 409) as a gRPC status code."""
    if http == 409:
        taken = "Exist" in error_type or "Allocated" in error_type or (method == "POST" and "InUse" in error_type)
        return grpc.StatusCode.ALREADY_EXISTS if taken else grpc.StatusCode.FAILED_PRECONDITION
    return {
        400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED,
        403: grpc.StatusCode.PERMISSION_DENIED, 404: grpc.StatusCode.NOT_FOUND,
        405: grpc.StatusCode.UNIMPLEMENTED, 412: grpc.StatusCode.ABORTED,
        413: grpc.StatusCode.INVALID_ARGUMENT, 503: grpc.StatusCode.UNAVAILABLE,
    }.get(http, grpc.StatusCode.INTERNAL if http >= 500 else grpc.StatusCode.UNKNOWN)


def error_of(body) -> tuple[str, str]:
    """(type, message) of a Neutron error body."""
    err = (body or {}).get("NeutronError") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return str(err.get("type", "")), str(err.get("message", ""))
    return "", json.dumps(body) if body is not None else ""
