"""Octavia v2 request attributes: types, defaults, ranges, what may change (pure).

``validate(kind, body, create=...)`` returns the request's fields converted to the
spec's field names; unknown or read-only attributes are 400s, as in Octavia (wsme).
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from netledger.errors import BadRequest


def invalid(name: str, value, why: str = "") -> BadRequest:
    return BadRequest(f"Invalid input for field/attribute {name}. Value: '{value}'. {why}".strip())


def _str(limit: int = 255):
    def conv(v, name):
        if v is None:
            return ""
        if not isinstance(v, str) or len(v) > limit:
            raise invalid(name, v, f"Value should be a string of at most {limit} characters")
        return v
    return conv


def _int(lo: int, hi: int):
    def conv(v, name):
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise invalid(name, v, f"Value should be an integer between {lo} and {hi}")
        return v
    return conv


def _bool(v, name):
    if not isinstance(v, bool):
        raise invalid(name, v, "Value should be boolean")
    return v


def _enum(*values: str):
    def conv(v, name):
        if v not in values:
            raise invalid(name, v, f"Value should be one of: {', '.join(values)}")
        return v
    return conv


def _uuid(v, name):
    try:
        return str(uuid.UUID(str(v)))
    except ValueError:
        raise invalid(name, v, "Value should be UUID format") from None


def _opt_uuid(v, name):
    return "" if v in (None, "") else _uuid(v, name)


def _ip(v, name):
    try:
        return str(ipaddress.ip_address(str(v)))
    except ValueError:
        raise invalid(name, v, "Value should be IPv4 or IPv6 format") from None


def _opt_ip(v, name):
    return "" if v in (None, "") else _ip(v, name)


def _cidrs(v, name):
    if v is None:
        return ()
    if not isinstance(v, list):
        raise invalid(name, v, "Value should be a list of CIDRs")
    try:
        out = tuple(str(ipaddress.ip_network(str(c), strict=False)) for c in v)
    except ValueError:
        raise invalid(name, v, "Value should be a list of CIDRs") from None
    return tuple(dict.fromkeys(out))


def _tags(v, name):
    if not isinstance(v, list) or not all(isinstance(t, str) for t in v):
        raise invalid(name, v, "Value should be a list of strings")
    return tuple(sorted(set(v)))


def _persistence(v, name):
    if v is None or v == {}:
        return None
    if not isinstance(v, dict) or v.get("type") not in ("SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE"):
        raise invalid(name, v, "type should be one of SOURCE_IP, HTTP_COOKIE, APP_COOKIE")
    cookie = v.get("cookie_name") or ""
    if v["type"] == "APP_COOKIE" and not cookie:
        raise BadRequest("Validation failure: Field cookie_name must be specified when using the APP_COOKIE "
                         "session persistence type.")
    if v["type"] != "APP_COOKIE" and cookie:
        raise BadRequest("Validation failure: Field cookie_name can only be specified when using the APP_COOKIE "
                         "session persistence type.")
    return {"type": v["type"], "cookie_name": cookie}


def _codes(v, name):
    text = str(v)
    for part in text.split(","):
        bounds = part.split("-")
        if not all(b.isdigit() and 100 <= int(b) <= 599 for b in bounds) or len(bounds) > 2:
            raise invalid(name, v, "Value should be a status code, a list (200,202) or a range (200-204)")
    return text


@dataclass(frozen=True)
class A:
    conv: Callable[[Any, str], Any]
    field: str = ""              # spec field name ("" = same as attribute)
    update: bool = True
    required: bool = False


_COMMON = {"name": A(_str()), "description": A(_str()), "admin_state_up": A(_bool), "tags": A(_tags),
           "project_id": A(_str(36), update=False), "tenant_id": A(_str(36), "project_id", update=False)}
ATTRS: dict[str, dict[str, A]] = {
    "loadbalancer": {**_COMMON, "vip_subnet_id": A(_uuid, update=False), "vip_network_id": A(_uuid, update=False),
                     "vip_port_id": A(_uuid, update=False), "vip_address": A(_ip, update=False),
                     "provider": A(_enum("amphora", "octavia", "haproxy"), update=False),
                     "flavor_id": A(_opt_uuid, update=False), "vip_qos_policy_id": A(_opt_uuid, update=False),
                     "availability_zone": A(_str(), update=False)},
    "listener": {**_COMMON, "protocol": A(_enum("HTTP", "TCP"), update=False, required=True),
                 "protocol_port": A(_int(1, 65535), update=False, required=True),
                 "loadbalancer_id": A(_uuid, update=False, required=True),
                 "connection_limit": A(_int(-1, 1_000_000)), "default_pool_id": A(_opt_uuid),
                 "timeout_client_data": A(_int(0, 86_400_000)), "timeout_member_connect": A(_int(0, 86_400_000)),
                 "timeout_member_data": A(_int(0, 86_400_000)), "timeout_tcp_inspect": A(_int(0, 86_400_000)),
                 "allowed_cidrs": A(_cidrs), "insert_headers": A(lambda v, n: v)},
    "pool": {**_COMMON, "protocol": A(_enum("HTTP", "TCP", "PROXY"), update=False, required=True),
             "lb_algorithm": A(_enum("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP"), required=True),
             "loadbalancer_id": A(_uuid, update=False), "listener_id": A(_uuid, update=False),
             "session_persistence": A(_persistence)},
    "member": {**_COMMON, "address": A(_ip, update=False, required=True),
               "protocol_port": A(_int(1, 65535), update=False, required=True), "weight": A(_int(0, 256)),
               "backup": A(_bool), "subnet_id": A(_opt_uuid, update=False), "monitor_address": A(_opt_ip),
               "monitor_port": A(lambda v, n: 0 if v is None else _int(1, 65535)(v, n))},
    "healthmonitor": {**_COMMON, "type": A(_enum("HTTP", "TCP", "PING"), update=False, required=True),
                      "pool_id": A(_uuid, update=False, required=True), "delay": A(_int(0, 2**31), required=True),
                      "timeout": A(_int(0, 2**31), required=True), "max_retries": A(_int(1, 10), required=True),
                      "max_retries_down": A(_int(1, 10)), "http_method": A(_enum("GET", "HEAD", "POST", "PUT",
                      "DELETE", "TRACE", "OPTIONS", "PATCH", "CONNECT")),
                      "url_path": A(_str()), "expected_codes": A(_codes)},
    "l7policy": {**_COMMON, "listener_id": A(_uuid, update=False, required=True),
                 "action": A(_enum("REDIRECT_TO_POOL", "REDIRECT_TO_URL", "REJECT"), required=True),
                 "position": A(_int(1, 2147483647)), "redirect_pool_id": A(_opt_uuid),
                 "redirect_url": A(_str(2000)), "redirect_http_code": A(_enum(301, 302, 303, 307, 308))},
    "l7rule": {**_COMMON, "type": A(_enum("PATH", "HOST_NAME", "HEADER", "COOKIE"), required=True),
               "compare_type": A(_enum("EQUAL_TO", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "REGEX"), required=True),
               "key": A(_str()), "value": A(_str(), required=True), "invert": A(_bool)},
}
NO_NAME = {"l7rule": {"name", "description"}}


def validate(kind: str, body, *, create: bool) -> dict:
    """{spec field: value} from the request body ``{kind: {...}}``."""
    if not isinstance(body, dict) or not isinstance(body.get(kind), dict):
        raise BadRequest(f"Invalid input: the request body must be an object with '{kind}'")
    attrs, out = ATTRS[kind], {}
    for name, value in body[kind].items():
        spec = attrs.get(name)
        if spec is None or name in NO_NAME.get(kind, ()):
            raise BadRequest(f"Invalid input for field/attribute {kind}. Value: '{body[kind]}'. "
                             f"Unknown attribute for argument {kind}: {name}")
        if not create and not spec.update:
            raise BadRequest(f"Invalid input for field/attribute {name}. Value: '{value}'. "
                             "Attribute cannot be updated")
        out[spec.field or name] = spec.conv(value, name)
    if create:
        missing = [n for n, a in attrs.items() if a.required and n not in body[kind]]
        if missing:
            raise BadRequest(f"Invalid input for field/attribute {missing[0]}. Value: 'None'. Mandatory field "
                             "missing.")
    out.pop("insert_headers", None)
    return out
