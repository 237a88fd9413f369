"""Request attribute rules per resource, as neutron-lib's attribute maps define them.

``validate_body`` checks the envelope (``{"port": {...}}``), rejects unknown and
read-only attributes and converts values, raising Neutron's 400s. It is pure.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable

from netledger.errors import BadRequest, Forbidden, InvalidInput

from netledger.services.dhcp import extra_opts as extra_dhcp_opts

from .ipam import normalize_mac
from .subnet_rules import attr_error

MISSING = object()
MAX_TAG_LEN = 255
MAX_TAGS = 50


def to_bool(value: Any, name: str) -> bool:
    """neutron-lib convert_to_boolean (strict oslo spellings)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "t", "f", "yes", "no", "on", "off"):
        return value.lower() in ("true", "1", "t", "yes", "on")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise InvalidInput(f"'{value}' cannot be converted to boolean")


def to_str(max_len: int = 255, *, nullable: bool = True) -> Callable[[Any, str], str]:
    """validate_string: a string of at most ``max_len`` characters (None -> "")."""
    def conv(value: Any, name: str) -> str:
        if value is None and nullable:
            return ""
        if not isinstance(value, str):
            raise attr_error(name, f"'{value}' is not a valid string")
        if len(value) > max_len:
            raise attr_error(name, f"'{value}' exceeds maximum length of {max_len}")
        return value
    return conv


def to_uuid(value: Any, name: str) -> str:
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) else _bad_uuid(value, name)
    except ValueError:
        return _bad_uuid(value, name)


def _bad_uuid(value: Any, name: str) -> str:
    raise attr_error(name, f"'{value}' is not a valid UUID")


def to_mac(value: Any, name: str) -> str:
    return normalize_mac(value)


def to_tags(value: Any, name: str) -> list[str]:
    """validate_list_of_unique_strings(MAX_TAG_LEN), as the tag extension checks."""
    if not isinstance(value, list):
        raise attr_error(name, f"'{value}' is not a list")
    for tag in value:
        if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_LEN:
            raise attr_error(name, f"'{tag}' is not a valid tag: a string of 1 to {MAX_TAG_LEN} characters")
    if len(set(value)) != len(value):
        raise attr_error(name, f"Duplicate items in the list: '{', '.join(sorted(set(value)))}'")
    if len(value) > MAX_TAGS:
        raise attr_error(name, f"At most {MAX_TAGS} tags per resource")
    return value


def to_uuid_list(value: Any, name: str) -> list[str]:
    items = to_list(value, name)
    return [to_uuid(i, name) for i in items]


def only_empty(value: Any, name: str) -> Any:
    """Attributes shown for compatibility whose feature is not implemented: only their
    empty value is accepted (anything else would be silently dropped)."""
    if value not in (None, [], ""):
        raise BadRequest(f"Attribute '{name}' is not supported by this server (only an empty value is accepted)")
    return value


def to_int(lo: int | None = None, hi: int | None = None) -> Callable[[Any, str], int]:
    def conv(value: Any, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise InvalidInput(f"'{value}' is not an integer")
        try:
            ivalue = int(value)
        except ValueError:
            raise InvalidInput(f"'{value}' is not an integer") from None
        if (lo is not None and ivalue < lo) or (hi is not None and ivalue > hi):
            raise attr_error(name, f"'{ivalue}' is not in range {lo} through {hi}")
        return ivalue
    return conv


def to_dict(value: Any, name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise attr_error(name, f"'{value}' is not a dictionary")
    return value


def to_list(value: Any, name: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise attr_error(name, f"'{value}' is not a list")
    return value


def to_str_list(value: Any, name: str) -> list[str]:
    items = to_list(value, name)
    if not all(isinstance(i, str) for i in items):
        raise attr_error(name, f"'{value}' is not a list of strings")
    return items


def passthrough(value: Any, name: str) -> Any:
    return value


@dataclass(frozen=True)
class Attr:
    convert: Callable[[Any, str], Any] = passthrough
    create: bool = True
    update: bool = True
    default: Any = MISSING          # MISSING: optional with no default; REQUIRED: must be given
    admin_only: bool = False


REQUIRED = object()
READ_ONLY = Attr(create=False, update=False)
TENANT = Attr(to_str(255), update=False)

COMMON = {
    "id": READ_ONLY, "tenant_id": TENANT, "project_id": TENANT,
    "name": Attr(to_str(255), default=""), "description": Attr(to_str(255), default=""),
    "created_at": READ_ONLY, "updated_at": READ_ONLY, "revision_number": READ_ONLY,
    # tag-creation: tags may be given on POST (PUT goes through /tags).
    "tags": Attr(to_tags, update=False), "status": READ_ONLY,
}

NETWORK = {
    **COMMON,
    "admin_state_up": Attr(to_bool, default=True),
    "shared": Attr(to_bool, default=False, admin_only=True),
    "mtu": Attr(to_int(68, 65535)),
    "port_security_enabled": Attr(to_bool, default=True),
    "router:external": Attr(to_bool, default=False, admin_only=True),
    "provider:network_type": Attr(to_str(32), update=False, admin_only=True),
    "provider:physical_network": Attr(to_str(64), update=False, admin_only=True),
    "provider:segmentation_id": Attr(to_int(0, 2**24), update=False, admin_only=True),
    "availability_zone_hints": Attr(only_empty, update=False),
    "subnets": READ_ONLY, "availability_zones": READ_ONLY, "l2_adjacency": READ_ONLY,
    "ipv4_address_scope": READ_ONLY, "ipv6_address_scope": READ_ONLY,
}

SUBNET = {
    **COMMON,
    "network_id": Attr(to_uuid, update=False, default=REQUIRED),
    "ip_version": Attr(passthrough, update=False, default=REQUIRED),
    "cidr": Attr(passthrough, update=False),
    "prefixlen": Attr(passthrough, update=False),
    "subnetpool_id": Attr(passthrough, update=False),
    "use_default_subnetpool": Attr(passthrough, update=False),
    "gateway_ip": Attr(passthrough),
    "allocation_pools": Attr(passthrough),
    "dns_nameservers": Attr(passthrough),
    "host_routes": Attr(passthrough),
    "enable_dhcp": Attr(to_bool, default=True),
    "ipv6_ra_mode": Attr(passthrough, update=False),
    "ipv6_address_mode": Attr(passthrough, update=False),
    "service_types": Attr(only_empty),
    "segment_id": Attr(only_empty, update=False),
}

PORT = {
    **COMMON,
    "network_id": Attr(to_uuid, update=False, default=REQUIRED),
    "admin_state_up": Attr(to_bool, default=True),
    "mac_address": Attr(to_mac),
    "fixed_ips": Attr(to_list),
    "device_id": Attr(to_str(255), default=""),
    "device_owner": Attr(to_str(255), default=""),
    "binding:host_id": Attr(to_str(255), default="", admin_only=True),
    "binding:profile": Attr(to_dict, default={}, admin_only=True),
    "binding:vnic_type": Attr(to_str(64), default="normal"),
    "binding:vif_type": READ_ONLY, "binding:vif_details": READ_ONLY,
    "port_security_enabled": Attr(to_bool),
    "security_groups": Attr(to_uuid_list),
    "allowed_address_pairs": Attr(to_list, default=[]),
    "extra_dhcp_opts": Attr(extra_dhcp_opts.validate, default=[]),   # extra_dhcp_opt extension
}

VNIC_TYPES = ("normal", "direct", "macvtap", "baremetal", "direct-physical", "virtio-forwarder",
              "smart-nic", "vdpa", "remote-managed")

SPECS = {"network": NETWORK, "subnet": SUBNET, "port": PORT}


def validate_body(kind: str, body: Any, *, create: bool, may: Callable[[str], bool]) -> dict:
    """Return the converted attributes the client sent (defaults filled on create).

    Checks in Neutron's order: envelope, unknown attributes, POST/PUT permission,
    conversion, attribute policy (``may(rule)`` asks the policy engine about
    ``<action>_<kind>:<attr>``; on create only for values other than the default, as
    Neutron's _is_attribute_explicitly_set), required attributes.
    """
    given = body.get(kind) if isinstance(body, dict) else None
    if not isinstance(given, dict):
        raise BadRequest(f"Unable to find '{kind}' in request body")
    spec = SPECS[kind]
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise BadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    out: dict[str, Any] = {}
    for name, value in given.items():
        rule = spec[name]
        if create and not rule.create:
            raise BadRequest(f"Attribute '{name}' not allowed in POST")
        if not create and not rule.update:
            raise BadRequest(f"Cannot update read-only attribute {name}")
        out[name] = rule.convert(value, name)
        if rule.admin_only and not (create and out[name] == rule.default):
            _check_attr_policy(kind, name, create, may)
    if create:
        for name, rule in spec.items():
            if name in out:
                continue
            if rule.default is REQUIRED:
                raise BadRequest(f"Failed to parse request. Required attribute '{name}' not specified")
            if rule.default is not MISSING:
                out[name] = rule.default
    return out


def _check_attr_policy(kind: str, name: str, create: bool, may: Callable[[str], bool]) -> None:
    rule = f"{'create' if create else 'update'}_{kind}:{name}"
    if not may(rule):
        raise Forbidden(f"(rule:{rule}) is disallowed by policy", type="PolicyNotAuthorized")
