"""``netledger-cni``: the executable a runtime runs (env CNI_*, config on stdin, JSON on stdout).

ADD  find-or-create the port (device_id = container id, name ``cni/<ifname>/<id>``, bound to
     this host), plug it, wait for ACTIVE (bounded), print the result. Repeating it adopts
     the same port and interface.
DEL  unplug and delete; everything already gone is success.
CHECK  the container's interface still matches the port (MAC, MTU, addresses, prevResult).
GC   delete this host's plugin ports on the network whose attachment is not in
     ``cni.dev/valid-attachments``.  STATUS: API reachable, network there, an L2 agent alive.
Every failure is a CNI error object on stdout with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys

from . import driver_link, spec
from .driver_api import Api
from .spec import CniError, Request


def _network_bits(api: Api, req: Request) -> tuple[dict, dict[str, dict]]:
    net = api.find("networks", req.conf.network)
    subnets = {s["id"]: s for s in api.list("subnets", network_id=net["id"])}
    return net, subnets


def _own_ports(api: Api, req: Request, net: dict, **extra: str) -> list[dict]:
    return api.list("ports", network_id=net["id"], device_owner=req.conf.device_owner, **extra)


def _find_port(api: Api, req: Request, net: dict) -> dict | None:
    hits = _own_ports(api, req, net, device_id=req.container_id, name=spec.port_name(req.container_id, req.ifname))
    return hits[0] if hits else None


def _create_port(api: Api, req: Request, net: dict, subnets: dict[str, dict]) -> dict:
    c = req.conf
    body = {"network_id": net["id"], "name": spec.port_name(req.container_id, req.ifname),
            "device_id": req.container_id, "device_owner": c.device_owner, "binding:host_id": req.host}
    if c.subnet or c.ip:
        fixed = {}
        if c.subnet:
            fixed["subnet_id"] = (subnets[c.subnet] if c.subnet in subnets else
                                  api.find("subnets", c.subnet, network_id=net["id"]))["id"]
        if c.ip:
            fixed["ip_address"] = c.ip
        body["fixed_ips"] = [fixed]
    if c.security_groups is not None:
        body["security_groups"] = [api.find("security-groups", g)["id"] for g in c.security_groups]
    return api.ok("POST", "/v2.0/ports", {"port": body}, accept=(201,))["port"]


def cmd_add(req: Request) -> dict:
    c = req.conf
    if not driver_link.netns_usable(req.netns):
        raise CniError(spec.E_CONTAINER, f"network namespace {req.netns!r} does not exist")
    api = Api(c.api)
    net, subnets = _network_bits(api, req)
    port = _find_port(api, req, net) or _create_port(api, req, net, subnets)
    if port.get("binding:host_id") not in ("", None, req.host):
        raise CniError(spec.E_API, f"port {port['id']} is bound to {port['binding:host_id']}, not {req.host}")
    att = spec.attachment(port, subnets, net.get("mtu") or 1450, req.ifname)
    try:
        host_if = driver_link.plug(att, req.netns, port["id"], host_netns=c.host_netns, backend=c.backend,
                                   ovsdb=c.ovsdb, bridge=c.bridge, container_id=req.container_id)
        api.wait_active(port["id"], c.active_timeout)
    except CniError:
        _undo(api, req, port["id"])     # no half-attached container; the runtime will retry ADD
        raise
    return spec.render_result(c.cniVersion, att, req.netns, host_if)


def _undo(api: Api, req: Request, port_id: str) -> None:
    c = req.conf
    try:
        driver_link.unplug(port_id, host_netns=c.host_netns, backend=c.backend, ovsdb=c.ovsdb, bridge=c.bridge)
        api.delete_port(port_id)
    except CniError:
        pass        # the original error is the one to report; GC collects what is left


def cmd_del(req: Request) -> None:
    c = req.conf
    api = Api(c.api)
    try:
        net = api.find("networks", c.network)
    except CniError as exc:
        if exc.code == spec.E_CONFIG:       # the network is gone: so are its ports
            return
        raise
    port = _find_port(api, req, net)
    if port is None:
        return
    driver_link.unplug(port["id"], host_netns=c.host_netns, backend=c.backend, ovsdb=c.ovsdb, bridge=c.bridge)
    api.delete_port(port["id"])


def cmd_check(req: Request) -> None:
    api = Api(req.conf.api)
    net, subnets = _network_bits(api, req)
    port = _find_port(api, req, net)
    if port is None:
        raise CniError(spec.E_API, f"no netledger port for container {req.container_id} ifname {req.ifname}")
    att = spec.attachment(port, subnets, net.get("mtu") or 1450, req.ifname)
    mac, mtu, cidrs = driver_link.observe(req.netns, req.ifname)
    problems = spec.check_mismatches(att, mac, mtu, cidrs) + spec.check_prev_result(req.conf.prevResult, att)
    if port["status"] != "ACTIVE":
        problems.append(f"port status {port['status']}")
    if not driver_link.host_side_present(port["id"], req.conf.host_netns):
        problems.append("host side of the veth is missing")
    if problems:
        raise CniError(spec.E_DATAPLANE, f"container {req.container_id} {req.ifname} does not match its port",
                       "; ".join(problems))


def cmd_gc(req: Request) -> None:
    c = req.conf
    api = Api(c.api)
    net = api.find("networks", c.network)
    ports = _own_ports(api, req, net, **{"binding:host_id": req.host})
    for port in spec.gc_victims(ports, spec.valid_attachments(c)):
        driver_link.unplug(port["id"], host_netns=c.host_netns, backend=c.backend, ovsdb=c.ovsdb, bridge=c.bridge)
        api.delete_port(port["id"])


def cmd_status(req: Request) -> None:
    try:
        api = Api(req.conf.api)
        api.find("networks", req.conf.network)
        agents = [a for a in api.list("agents") if a.get("host") == req.host]
    except CniError as exc:
        raise CniError(spec.E_UNAVAILABLE, f"netledger not available: {exc.msg}", exc.details) from None
    if not any(a.get("alive") and a.get("agent_type") in L2_AGENT_TYPES for a in agents):
        raise CniError(spec.E_UNAVAILABLE, f"no live L2 agent on host {req.host}: ports could not turn ACTIVE")


L2_AGENT_TYPES = ("Open vSwitch agent", "Linux bridge agent")
COMMANDS = {"ADD": cmd_add, "DEL": cmd_del, "CHECK": cmd_check, "GC": cmd_gc, "STATUS": cmd_status}


def run(env: dict[str, str], stdin: bytes) -> tuple[int, dict | None]:
    """(exit code, JSON to print). The whole plugin minus the process boundary."""
    version = spec.version_of(stdin)
    try:
        if env.get("CNI_COMMAND") == "VERSION":
            return 0, spec.render_version(stdin)
        req = spec.parse_request(env, stdin)
        out = COMMANDS[req.command](req)
        return 0, out
    except CniError as exc:
        return 1, exc.render(version)
    except Exception as exc:  # noqa: BLE001 - the runtime must get an error object, not a traceback
        return 1, CniError(999, f"internal error: {type(exc).__name__}", str(exc)[:500]).render(version)


def lxc_hook(argv: list[str]) -> int:
    """``netledger-cni lxc-hook CONF <name> lxc <hook>``: errors go to stderr (LXC's log)."""
    from .lxc import hook_env

    try:
        env = {**os.environ, **hook_env(argv, dict(os.environ))}
        with open(argv[0], "rb") as f:
            stdin = f.read()
    except (ValueError, KeyError, OSError, IndexError) as exc:
        print(f"netledger-cni lxc-hook: {exc}", file=sys.stderr)
        return 1
    code, out = run(env, stdin)
    if code:
        print(json.dumps(out), file=sys.stderr)
    return code


def main() -> int:
    if sys.argv[1:2] == ["lxc-hook"]:
        return lxc_hook(sys.argv[2:])
    try:
        stdin = sys.stdin.buffer.read()
    except OSError as exc:
        stdin = b""
        print(json.dumps(CniError(spec.E_IO, "cannot read stdin", str(exc)).render("1.1.0")))
        return 1
    code, out = run(dict(os.environ), stdin)
    if out is not None:
        sys.stdout.write(json.dumps(out) + "\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
