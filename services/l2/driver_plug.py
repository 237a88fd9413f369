"""Plug/unplug an instance the way os-vif does for Nova (I/O only, idempotent).

plug: veth pair ``tap<port[:11]>`` (host side, in the host's namespace, which may be
a simulated host's netns) <-> ``eth0`` in the instance namespace with the port's MAC
and the network MTU, TX checksum offload off (the userspace datapath would forward
partial checksums), then the tap joins br-int with external_ids iface-id,
attached-mac and iface-status=active: the worker finds it by iface-id.
With ``backend="linuxbridge"`` there is no OVS: the tap stays a plain veth (up) and
the worker enslaves it to its network's bridge once the port intent arrives (as
Neutron's linuxbridge agent does with the taps Nova creates); it finds it by name.
unplug reverses it; both can be repeated safely.
"""

from __future__ import annotations

import subprocess

import msgspec


class PlugSpec(msgspec.Struct, frozen=True, kw_only=True):
    port_id: str
    netns: str                      # the instance namespace (created if missing)
    mac: str = ""
    mtu: int = 1450
    host_netns: str = ""            # "" = this process's namespace
    ovsdb: str = "unix:/var/run/openvswitch/db.sock"
    bridge: str = "br-int"
    device_id: str = ""
    backend: str = "openvswitch"    # or "linuxbridge" (no OVS; the worker attaches the tap)


def tap_name(port_id: str) -> str:
    return f"tap{port_id[:11]}"


def _ip(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["ip", *(("-n", ns) if ns else ()), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {proc.stderr.strip()}")
    return proc


def _sh(*cmd: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {proc.stderr.strip()}")
    return proc.stdout


def _link_exists(ns: str, name: str) -> bool:
    return _ip(ns, "link", "show", "dev", name, check=False).returncode == 0


def _ensure_netns(name: str) -> None:
    if name not in _sh("ip", "netns", "list").split():
        _sh("ip", "netns", "add", name)
        _ip(name, "link", "set", "lo", "up")


def plug(spec: PlugSpec) -> str:
    """Returns the tap name. The instance MAC is required (see cli for API lookup)."""
    if not spec.mac:
        raise ValueError("plug needs the port's MAC address")
    tap = tap_name(spec.port_id)
    _ensure_netns(spec.netns)
    if not _link_exists(spec.host_netns, tap):
        _ip(spec.host_netns, "link", "add", tap, "mtu", str(spec.mtu), "type", "veth",
            "peer", "name", "eth0", "netns", spec.netns)
    _ip(spec.netns, "link", "set", "eth0", "address", spec.mac, "mtu", str(spec.mtu), "up")
    _sh("ip", "netns", "exec", spec.netns, "ethtool", "-K", "eth0", "tx", "off")
    _ip(spec.host_netns, "link", "set", tap, "mtu", str(spec.mtu), "up")
    if _is_linuxbridge(spec.backend):
        return tap
    ext = [f"external_ids:iface-id={spec.port_id}", f"external_ids:attached-mac={spec.mac}",
           "external_ids:iface-status=active"]
    if spec.device_id:
        ext.append(f"external_ids:vm-uuid={spec.device_id}")
    _sh("ovs-vsctl", f"--db={spec.ovsdb}", "--timeout=10", "--may-exist", "add-port", spec.bridge, tap,
        "--", "set", "Interface", tap, *ext)
    return tap


def _is_linuxbridge(backend: str) -> bool:
    return backend in ("linuxbridge", "lb")


def unplug(port_id: str, netns: str, *, host_netns: str = "", ovsdb: str = PlugSpec.ovsdb,
           bridge: str = "br-int", backend: str = "openvswitch") -> None:
    tap = tap_name(port_id)
    if not _is_linuxbridge(backend):
        _sh("ovs-vsctl", f"--db={ovsdb}", "--timeout=10", "--if-exists", "del-port", bridge, tap)
    if _link_exists(host_netns, tap):
        _ip(host_netns, "link", "del", tap)     # takes the instance's eth0 with it
