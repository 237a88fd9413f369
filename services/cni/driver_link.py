"""Container namespace plumbing (I/O only): veth into CNI_NETNS, addresses, routes, MTU.

Runtimes hand us a namespace *path* (``/run/netns/x``, ``/proc/<pid>/ns/net``), which
``ip -n`` cannot take, so commands inside it run under ``nsenter --net=<path>`` and the
veth is created there with its peer sent straight to the host namespace. The host side is
``tap<port[:11]>`` exactly as ``netledger port plug`` names it, so the L2 workers find it
the same way (OVS: iface-id in external_ids; Linux bridge: by name). Idempotent: an
existing pair is adopted and re-configured with ``replace`` semantics.
"""

from __future__ import annotations

import json
import os
import subprocess

from netledger.services.l2.driver_plug import tap_name, unplug as l2_unplug

from .spec import E_CONTAINER, E_DATAPLANE, Attachment, CniError


def _run(cmd: list[str], stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise CniError(E_DATAPLANE, f"{' '.join(cmd[:6])}... failed", (proc.stderr or proc.stdout).strip()[:500])
    return proc


def _in(netns_path: str, *cmd: str) -> list[str]:
    return ["nsenter", f"--net={netns_path}", *cmd]


def _host_ip(host_netns: str, *args: str) -> list[str]:
    return ["ip", *(("-n", host_netns) if host_netns else ()), *args]


def is_ovs(backend: str) -> bool:
    return backend in ("ovs", "openvswitch")


def netns_usable(path: str) -> bool:
    return bool(path) and os.path.exists(path) and _run(_in(path, "true"), check=False).returncode == 0


def link_exists(netns_path: str, ifname: str) -> bool:
    return _run(_in(netns_path, "ip", "link", "show", "dev", ifname), check=False).returncode == 0


def _host_link_exists(host_netns: str, name: str) -> bool:
    return _run(_host_ip(host_netns, "link", "show", "dev", name), check=False).returncode == 0


def plug(att: Attachment, netns_path: str, port_id: str, *, host_netns: str, backend: str, ovsdb: str,
         bridge: str, container_id: str) -> str:
    """Wire the container to the port; returns the host-side interface name."""
    if not netns_usable(netns_path):
        raise CniError(E_CONTAINER, f"network namespace {netns_path!r} does not exist")
    tap = tap_name(port_id)
    ours = link_exists(netns_path, att.ifname)
    if ours and not _host_link_exists(host_netns, tap):
        raise CniError(E_DATAPLANE, f"{att.ifname} already exists in {netns_path} and is not netledger's")
    if not ours:
        if _host_link_exists(host_netns, tap):          # half-done earlier attempt: start over
            _run(_host_ip(host_netns, "link", "del", tap))
        # The peer goes straight to the host namespace: by name, or by our pid when it is ours.
        target = host_netns or str(os.getpid())
        _run(_in(netns_path, "ip", "link", "add", att.ifname, "mtu", str(att.mtu), "address", att.mac, "type", "veth",
                 "peer", "name", tap, "mtu", str(att.mtu), "netns", target))
    _run(_in(netns_path, "ip", "-force", "-batch", "-"), stdin=_batch(att))
    if is_ovs(backend):     # the userspace datapath would forward partial checksums
        _run(_in(netns_path, "ethtool", "-K", att.ifname, "tx", "off"))
    _run(_host_ip(host_netns, "link", "set", tap, "mtu", str(att.mtu), "up"))
    if is_ovs(backend):
        _run(["ovs-vsctl", f"--db={ovsdb}", "--timeout=10", "--may-exist", "add-port", bridge, tap, "--", "set",
              "Interface", tap, f"external_ids:iface-id={port_id}", f"external_ids:attached-mac={att.mac}",
              "external_ids:iface-status=active", f"external_ids:vm-uuid={container_id}"])
    return tap


def _batch(att: Attachment) -> str:
    lines = ["link set lo up", f"link set {att.ifname} address {att.mac} mtu {att.mtu} up"]
    for a in att.addrs:
        lines.append(f"addr replace {a.cidr} dev {att.ifname}" + (" nodad" if a.version == 6 else ""))
    for r in att.routes:
        fam = "-6 " if ":" in r.gw else ""
        lines.append(f"{fam}route replace {r.dst} via {r.gw} dev {att.ifname}")
    return "\n".join(lines) + "\n"


def observe(netns_path: str, ifname: str) -> tuple[str, int, set[str]]:
    """(mac, mtu, {cidr}) of the container's interface, for CHECK."""
    if not netns_usable(netns_path):
        raise CniError(E_CONTAINER, f"network namespace {netns_path!r} does not exist")
    proc = _run(_in(netns_path, "ip", "-j", "addr", "show", "dev", ifname), check=False)
    if proc.returncode != 0:
        raise CniError(E_DATAPLANE, f"interface {ifname} missing in {netns_path}")
    link = json.loads(proc.stdout)[0]
    cidrs = {f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", ()) if a.get("scope") != "link"}
    return link.get("address", ""), int(link.get("mtu", 0)), cidrs


def host_side_present(port_id: str, host_netns: str) -> bool:
    return _host_link_exists(host_netns, tap_name(port_id))


def unplug(port_id: str, *, host_netns: str, backend: str, ovsdb: str, bridge: str) -> None:
    """Idempotent: OVS port and veth go if present (the container's end goes with the pair)."""
    try:
        l2_unplug(port_id, "", host_netns=host_netns, ovsdb=ovsdb, bridge=bridge,
                  backend="openvswitch" if is_ovs(backend) else "linuxbridge")
    except RuntimeError as exc:
        raise CniError(E_DATAPLANE, f"unplug of {port_id} failed", str(exc)) from None
