"""The extra_dhcp_opt extension's attribute (pure): validation and Neutron's update merge.

A port's ``extra_dhcp_opts`` is a list of ``{opt_name, opt_value, ip_version}``. On
update the given options are merged into the current ones by (opt_name, ip_version):
a value replaces, ``opt_value: null`` removes, an unknown name is added (as Neutron's
``_update_extra_dhcp_opts_on_port``). Values end up in dnsmasq's option file, so line
breaks are refused (they would inject configuration) and names may not hold blanks
or commas.
"""

from __future__ import annotations

import re
from typing import Any

from netledger.errors import InvalidInput
from netledger.libs.events.port import ExtraDhcpOpt

NAME_MAX, VALUE_MAX = 64, 255
# dnsmasq 2.90's option names (``dnsmasq --help dhcp`` / ``--help dhcp6``); numbers 1-254 too.
V4_NAMES = frozenset("""netmask time-offset router dns-server log-server lpr-server boot-file-size domain-name
    swap-server root-path extension-path ip-forward-enable non-local-source-routing policy-filter
    max-datagram-reassembly default-ttl mtu all-subnets-local router-discovery router-solicitation static-route
    trailer-encapsulation arp-timeout ethernet-encap tcp-ttl tcp-keepalive nis-domain nis-server ntp-server
    netbios-ns netbios-dd netbios-nodetype netbios-scope x-windows-fs x-windows-dm T1 T2 vendor-class
    nis+-domain nis+-server tftp-server bootfile-name mobile-ip-home smtp-server pop3-server nntp-server
    irc-server user-class rapid-commit client-arch client-interface-id client-machine-id posix-timezone
    tzdb-timezone ipv6-only domain-search sip-server classless-static-route vendor-id-encap
    tftp-server-address server-ip-address""".split())
V6_NAMES = frozenset("""sip-server-domain sip-server dns-server domain-search nis-server nis+-server nis-domain
    nis+-domain sntp-server information-refresh-time posix-timezone tzdb-timezone ntp-server bootfile-url
    bootfile-param""".split())
_NAME_RE = re.compile(r"^[^\s,]+$")
_KEYS = {"opt_name", "opt_value", "ip_version"}


def _one(item: Any, *, allow_null: bool) -> dict:
    if not isinstance(item, dict) or "opt_name" not in item or set(item) - _KEYS:
        raise InvalidInput("Invalid data format for extra-dhcp-opt: each option is an object with "
                           "opt_name, opt_value and optionally ip_version")
    name, value = item["opt_name"], item.get("opt_value")
    if not isinstance(name, str) or not name or len(name) > NAME_MAX or not _NAME_RE.match(name):
        raise InvalidInput(f"Invalid extra-dhcp-opt name '{name}'")
    if value is None and not allow_null:
        raise InvalidInput(f"extra-dhcp-opt '{name}' needs an opt_value")
    if value is not None and (not isinstance(value, str) or not value or len(value) > VALUE_MAX
                              or "\n" in value or "\r" in value):
        raise InvalidInput(f"Invalid extra-dhcp-opt value for '{name}'")
    version = item.get("ip_version", 4)
    try:
        version = int(version)
    except (TypeError, ValueError):
        version = 0
    if version not in (4, 6):
        raise InvalidInput(f"Invalid ip_version '{item.get('ip_version')}' for extra-dhcp-opt '{name}'")
    known = name in (V4_NAMES if version == 4 else V6_NAMES) or (name.isdigit() and 1 <= int(name) <= 254)
    if not known:
        raise InvalidInput(f"Unknown DHCP option '{name}' for IPv{version}")
    return {"opt_name": name, "opt_value": value, "ip_version": version}


def validate(value: Any, name: str = "extra_dhcp_opts") -> list[dict]:
    """Attribute converter: a list of options (null values kept: they mean "remove")."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"Invalid data format for extra-dhcp-opt: '{value}' is not a list")
    out = [_one(item, allow_null=True) for item in value]
    if len({(o["opt_name"], o["ip_version"]) for o in out}) != len(out):
        raise InvalidInput("Duplicate extra-dhcp-opt (same opt_name and ip_version)")
    return out


def for_create(opts: list[dict] | None) -> tuple[ExtraDhcpOpt, ...]:
    """On create a null value means "not set" (dropped)."""
    return tuple(ExtraDhcpOpt(**o) for o in opts or () if o["opt_value"] is not None)


def merge(current: list[dict] | None, changes: list[dict]) -> tuple[ExtraDhcpOpt, ...]:
    """Neutron's update semantics; order: current options first, new ones appended."""
    merged = {(o["opt_name"], o.get("ip_version", 4)): o["opt_value"] for o in current or ()}
    for o in changes:
        key = (o["opt_name"], o["ip_version"])
        if o["opt_value"] is None:
            merged.pop(key, None)
        else:
            merged[key] = o["opt_value"]
    return tuple(ExtraDhcpOpt(opt_name=n, opt_value=v, ip_version=ver) for (n, ver), v in merged.items())
