"""The CNI contract, pure: environment + stdin -> a typed request; port + subnets -> a result.

No I/O here (the plugin and drivers do it). Everything a runtime can get wrong maps to
a ``CniError`` with the spec's code (SPEC.md "Error"): 1 incompatible version, 2
unsupported field, 3 unknown container, 4 bad environment, 5 I/O, 6 undecodable
content, 7 invalid network configuration, 11 try again later; STATUS uses 50/51.
Codes from 100 up are this plugin's own (the spec reserves 0-99).
"""

from __future__ import annotations

import ipaddress
import json
import socket

import msgspec

SUPPORTED_VERSIONS = ("1.0.0", "1.1.0")
COMMANDS = ("ADD", "DEL", "CHECK", "STATUS", "VERSION", "GC")
# Attachment commands need a container; GC/STATUS/VERSION act on the network alone.
NEEDS_CONTAINER = ("ADD", "DEL", "CHECK")
DEVICE_OWNER = "compute:container"      # "compute:" so FIPs and DVR-style checks treat it as an instance

E_VERSION, E_UNSUPPORTED, E_CONTAINER, E_ENV, E_IO, E_DECODE, E_CONFIG, E_AGAIN = 1, 2, 3, 4, 5, 6, 7, 11
E_UNAVAILABLE, E_LIMITED = 50, 51
E_DATAPLANE, E_API = 100, 101


class CniError(Exception):
    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code, self.msg, self.details = code, msg, details

    def render(self, version: str) -> dict:
        out = {"cniVersion": version, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out


class ApiConf(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str = "http://127.0.0.1:9696"
    token: str = ""                 # a Keystone token, sent as X-Auth-Token
    project_id: str = ""            # noauth deployments: the X-Project-Id header
    auth_url: str = ""              # Keystone v3 password auth (when no token is given)
    username: str = ""
    password: str = ""
    project_name: str = ""
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    timeout: float = 10.0


class NetConf(msgspec.Struct, frozen=True, kw_only=True):
    """The network configuration (one plugin entry of a conflist, runtime fields merged in)."""

    cniVersion: str
    name: str
    type: str = "netledger-cni"
    network: str = ""               # a netledger network, by id or name
    subnet: str = ""                # optional: the subnet (id or name) to take the address from
    ip: str = ""                    # optional fixed IP
    security_groups: tuple[str, ...] | None = None     # ids or names; None = the project's default
    api: ApiConf = ApiConf()
    host: str = ""                  # binding:host_id; "" = this machine's hostname
    host_netns: str = ""            # namespace holding br-int / the bridges ("" = ours; all-in-one: netledger-aio)
    backend: str = "ovs"            # ovs | linuxbridge
    ovsdb: str = "unix:/var/run/openvswitch/db.sock"
    bridge: str = "br-int"
    device_owner: str = DEVICE_OWNER
    active_timeout: float = 30.0
    ipam: dict | None = None        # not supported: netledger allocates addresses
    prevResult: dict | None = None
    valid_attachments: tuple[dict, ...] | None = msgspec.field(default=None, name="cni.dev/valid-attachments")


class Request(msgspec.Struct, frozen=True, kw_only=True):
    command: str
    conf: NetConf
    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    args: tuple[tuple[str, str], ...] = ()
    path: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        return self.conf.host or socket.gethostname()


def version_of(stdin: bytes) -> str:
    """The cniVersion an error should carry: the config's if readable, else the newest."""
    try:
        v = json.loads(stdin or b"{}").get("cniVersion", "")
    except (ValueError, AttributeError):
        v = ""
    return v if v in SUPPORTED_VERSIONS else SUPPORTED_VERSIONS[-1]


def render_version(stdin: bytes) -> dict:
    """VERSION may come with an empty config or just ``{"cniVersion": ...}``."""
    return {"cniVersion": version_of(stdin), "supportedVersions": list(SUPPORTED_VERSIONS)}


def parse_request(env: dict[str, str], stdin: bytes) -> Request:
    command = env.get("CNI_COMMAND", "")
    if command not in COMMANDS:
        raise CniError(E_ENV, f"CNI_COMMAND must be one of {', '.join(COMMANDS)}", f"got {command!r}")
    conf = parse_conf(stdin, command)
    out = {"command": command, "conf": conf, "path": tuple(p for p in env.get("CNI_PATH", "").split(":") if p)}
    if command in NEEDS_CONTAINER:
        missing = [k for k in ("CNI_CONTAINERID", "CNI_IFNAME") if not env.get(k)]
        if command != "DEL" and not env.get("CNI_NETNS"):
            missing.append("CNI_NETNS")     # DEL may come after the namespace is gone
        if missing:
            raise CniError(E_ENV, f"missing environment variables: {', '.join(missing)}")
        out.update(container_id=env["CNI_CONTAINERID"], ifname=env["CNI_IFNAME"], netns=env.get("CNI_NETNS", ""),
                   args=parse_args(env.get("CNI_ARGS", "")))
        if len(out["ifname"]) > 15 or "/" in out["ifname"]:
            raise CniError(E_ENV, f"CNI_IFNAME {out['ifname']!r} is not a valid interface name")
    return Request(**out)


def parse_args(raw: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in filter(None, raw.split(";")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CniError(E_ENV, f"CNI_ARGS: {item!r} is not KEY=VALUE")
        pairs.append((key, value))
    return tuple(pairs)


def parse_conf(stdin: bytes, command: str) -> NetConf:
    try:
        raw = json.loads(stdin)
    except ValueError as exc:
        raise CniError(E_DECODE, "network configuration is not JSON", str(exc)) from None
    if not isinstance(raw, dict):
        raise CniError(E_DECODE, "network configuration must be a JSON object")
    version = raw.get("cniVersion")
    if version not in SUPPORTED_VERSIONS:
        raise CniError(E_VERSION, f"incompatible CNI version {version!r}",
                       f"supported: {', '.join(SUPPORTED_VERSIONS)}")
    if command in ("STATUS", "GC") and version == "1.0.0":
        raise CniError(E_VERSION, f"{command} needs cniVersion 1.1.0", "got 1.0.0")
    try:
        conf = msgspec.convert(raw, NetConf)
    except msgspec.ValidationError as exc:
        raise CniError(E_CONFIG, "invalid network configuration", str(exc)) from None
    if conf.ipam:
        raise CniError(E_UNSUPPORTED, "unsupported field ipam: netledger allocates addresses", json.dumps(conf.ipam))
    if not conf.network:
        raise CniError(E_CONFIG, "invalid network configuration: 'network' is required",
                       "a netledger network id or name")
    if conf.backend not in ("ovs", "openvswitch", "linuxbridge", "lb"):
        raise CniError(E_CONFIG, f"invalid network configuration: backend {conf.backend!r}", "ovs | linuxbridge")
    if conf.ip:
        try:
            ipaddress.ip_address(conf.ip)
        except ValueError:
            raise CniError(E_CONFIG, f"invalid network configuration: ip {conf.ip!r}") from None
    return conf


# --- naming: how a port remembers its attachment (GC and idempotent ADD read it back)
def port_name(container_id: str, ifname: str) -> str:
    return f"cni/{ifname}/{container_id}"


def attachment_of(port: dict) -> tuple[str, str] | None:
    """(container id, ifname) of a port this plugin created, else None."""
    parts = (port.get("name") or "").split("/", 2)
    if len(parts) != 3 or parts[0] != "cni":
        return None
    return parts[2], parts[1]


def valid_attachments(conf: NetConf) -> set[tuple[str, str]]:
    out = set()
    for item in conf.valid_attachments or ():
        if not isinstance(item, dict) or "containerID" not in item or "ifname" not in item:
            raise CniError(E_CONFIG, "cni.dev/valid-attachments entries need containerID and ifname", json.dumps(item))
        out.add((item["containerID"], item["ifname"]))
    return out


def gc_victims(ports: list[dict], valid: set[tuple[str, str]]) -> list[dict]:
    """Ports of this plugin whose attachment the runtime no longer knows."""
    return [p for p in ports if (a := attachment_of(p)) is not None and a not in valid]


# --- what goes into the namespace, and the result printed for the runtime
class Addr(msgspec.Struct, frozen=True, kw_only=True):
    cidr: str                       # "10.0.0.5/24"
    gateway: str = ""
    version: int = 4


class Route(msgspec.Struct, frozen=True, kw_only=True):
    dst: str
    gw: str


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the driver sets inside the container, derived from the port."""

    ifname: str
    mac: str
    mtu: int
    addrs: tuple[Addr, ...]
    routes: tuple[Route, ...]
    nameservers: tuple[str, ...] = ()


def attachment(port: dict, subnets: dict[str, dict], mtu: int, ifname: str) -> Attachment:
    """port['fixed_ips'] + their subnets -> addresses, gateway routes, host routes, DNS."""
    addrs, routes, dns = [], [], []
    for fip in port.get("fixed_ips", ()):
        sub = subnets[fip["subnet_id"]]
        net = ipaddress.ip_network(sub["cidr"])
        gw = sub.get("gateway_ip") or ""
        addrs.append(Addr(cidr=f"{fip['ip_address']}/{net.prefixlen}", gateway=gw, version=net.version))
        if gw:
            routes.append(Route(dst="0.0.0.0/0" if net.version == 4 else "::/0", gw=gw))
        routes += [Route(dst=r["destination"], gw=r["nexthop"]) for r in sub.get("host_routes") or ()]
        dns += [d for d in sub.get("dns_nameservers") or () if d not in dns]
    seen, uniq = set(), []
    for r in routes:                # two subnets of one family: the first gateway wins
        if r.dst not in seen:
            seen.add(r.dst)
            uniq.append(r)
    return Attachment(ifname=ifname, mac=port["mac_address"], mtu=mtu, addrs=tuple(addrs), routes=tuple(uniq),
                      nameservers=tuple(dns))


def render_result(version: str, att: Attachment, netns: str, host_if: str) -> dict:
    """The ADD result: interface 0 is the host side, 1 the container's (ips point at it)."""
    container_if = {"name": att.ifname, "mac": att.mac, "sandbox": netns}
    if version != "1.0.0":
        container_if["mtu"] = att.mtu                       # added in 1.1.0
    ips = [{"address": a.cidr, "interface": 1, **({"gateway": a.gateway} if a.gateway else {})} for a in att.addrs]
    out = {"cniVersion": version, "interfaces": [{"name": host_if}, container_if], "ips": ips,
           "routes": [{"dst": r.dst, "gw": r.gw} for r in att.routes], "dns": {}}
    if att.nameservers:
        out["dns"] = {"nameservers": list(att.nameservers)}
    return out


def check_mismatches(want: Attachment, seen_mac: str, seen_mtu: int, seen_cidrs: set[str]) -> list[str]:
    """CHECK: what the container's interface lacks compared to the port (empty = fine)."""
    out = []
    if seen_mac.lower() != want.mac.lower():
        out.append(f"mac {seen_mac} != port's {want.mac}")
    if seen_mtu != want.mtu:
        out.append(f"mtu {seen_mtu} != network's {want.mtu}")
    out += [f"address {a.cidr} missing" for a in want.addrs if a.cidr not in seen_cidrs]
    return out


def check_prev_result(prev: dict | None, want: Attachment) -> list[str]:
    """CHECK against the runtime's cached prevResult: its IPs must be the port's."""
    if not prev:
        return []
    have = {ip.get("address") for ip in prev.get("ips", ())}
    want_cidrs = {a.cidr for a in want.addrs}
    return [] if have == want_cidrs else [f"prevResult ips {sorted(have)} != port's {sorted(want_cidrs)}"]
