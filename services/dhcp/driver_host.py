"""The only module of the DHCP worker that touches the host: observe and apply ops.

Everything it creates is marked as ours: namespaces ``<prefix>qdhcp-<network>``, OVS
interfaces with ``external_ids:netledger-owner=netledger-dhcp`` and
``netledger-network=<id>``, files under the worker's state directory, processes whose
command line names our pid file. Processes are stopped by pid, and only after
checking that mark. Blocking calls: the worker runs these in a thread.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import structlog

from . import plan as P
from .config import OWNER, DhcpAgentConfig
from .render_dnsmasq import validation_conf

log = structlog.get_logger("dhcp.driver")


def _run(*cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def _ip(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return _run("ip", *(("-n", ns) if ns else ()), *args, check=check)


def _read(path: str) -> str | None:
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return None


def proc_argv(pid: int) -> tuple[str, ...] | None:
    """The live process's argv (None when gone or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                return None
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except (OSError, IndexError):
        return None
    return tuple(a.decode(errors="replace") for a in raw.split(b"\0") if a) or None


def _proc(pid_file: str, marker: str) -> P.Proc | None:
    text = _read(pid_file)
    if not text or not text.strip().isdigit():
        return None
    pid = int(text.strip())
    argv = proc_argv(pid)
    if argv is None or not any(marker in a for a in argv):
        return None                       # gone, or a reused pid that is not ours
    return P.Proc(pid=pid, argv=argv)


class HostDriver:
    def __init__(self, cfg: DhcpAgentConfig) -> None:
        self.cfg = cfg
        self.writes = 0

    def _vsctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run("ovs-vsctl", f"--db={self.cfg.ovsdb}", "--timeout=10", *args, check=check)

    # --- observe
    def networks_present(self) -> set[str]:
        """Networks this worker has anything of on the host (its state dir, its netns)."""
        found = set(os.listdir(self.cfg.root)) if os.path.isdir(self.cfg.root) else set()
        marker = f"{self.cfg.netns_prefix}qdhcp-"
        for ns in (os.listdir("/run/netns") if os.path.isdir("/run/netns") else ()):
            if ns.startswith(marker):
                found.add(ns[len(marker):])
        return found

    def _ovs_interface(self, network_id: str) -> tuple[str, str]:
        out = self._vsctl("--format=json", "--columns=name,external_ids", "find", "Interface",
                          f"external_ids:netledger-network={network_id}", check=False).stdout
        try:
            rows = json.loads(out)["data"] if out.strip() else []
        except ValueError:
            rows = []
        for name, ext in rows:
            ids = dict(ext[1]) if isinstance(ext, list) else {}
            if ids.get("netledger-owner") == OWNER:
                return name, ids.get("iface-id", "")
        return "", ""

    def _link(self, netns: str, interface: str) -> dict:
        proc = _ip(netns, "-j", "addr", "show", "dev", interface, check=False)
        try:
            data = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else []
        except ValueError:
            data = []
        if not data:
            return {}
        link = data[0]
        addrs = frozenset(f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])
                          if a.get("scope") == "global")
        return {"link": True, "mac": link.get("address", ""), "mtu": link.get("mtu", 0),
                "up": "UP" in link.get("flags", []), "addrs": addrs}

    def observe(self, lay: P.Layout) -> P.Observed:
        netns = os.path.exists(f"/run/netns/{lay.netns}")
        interface, _ = self._ovs_interface(lay.network_id)
        link = self._link(lay.netns, interface) if netns and interface else {}
        files = {p: t for p in (lay.paths.hosts, lay.paths.opts, lay.metadata_conf)
                 if (t := _read(p)) is not None}
        return P.Observed(netns=netns, dir=os.path.isdir(lay.dir), interface=interface, ovs_port=bool(interface),
                          files=files, dnsmasq=_proc(lay.paths.pid, lay.paths.pid),
                          proxy=_proc(lay.proxy_pid, lay.proxy_pid), **link)

    # --- apply
    def apply(self, ops: list[P.Op], network_id: str) -> None:
        for op in ops:
            getattr(self, f"_do_{type(op).__name__}")(op, network_id)
            self.writes += 1

    def _do_CreateNetns(self, op: P.CreateNetns, _net: str) -> None:
        if not os.path.exists(f"/run/netns/{op.netns}"):
            _run("ip", "netns", "add", op.netns)
        _ip(op.netns, "link", "set", "lo", "up")

    def _do_PlugPort(self, op: P.PlugPort, net: str) -> None:
        """An OVS internal port, created in the host's namespace, moved into ours."""
        self._vsctl("--may-exist", "add-port", self.cfg.bridge, op.interface, "--", "set", "Interface",
                    op.interface, "type=internal", f"external_ids:iface-id={op.port_id}",
                    f"external_ids:attached-mac={op.mac}", "external_ids:iface-status=active",
                    f"external_ids:netledger-owner={OWNER}", f"external_ids:netledger-network={net}")
        deadline = time.monotonic() + 10
        while _ip(op.netns, "link", "show", "dev", op.interface, check=False).returncode != 0:
            if _ip(self.cfg.host_netns, "link", "show", "dev", op.interface, check=False).returncode == 0:
                _ip(self.cfg.host_netns, "link", "set", op.interface, "netns", op.netns)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{op.interface} did not appear")
            time.sleep(0.05)
        _ip(op.netns, "link", "set", op.interface, "address", op.mac, "mtu", str(op.mtu), "up")

    def _do_AddAddr(self, op: P.AddAddr, _net: str) -> None:
        _ip(op.netns, "addr", "replace", op.cidr, "dev", op.interface)

    def _do_DelAddr(self, op: P.DelAddr, _net: str) -> None:
        _ip(op.netns, "addr", "del", op.cidr, "dev", op.interface, check=False)

    def _do_WriteFile(self, op: P.WriteFile, _net: str) -> None:
        """write .new -> validate -> rename (readers never see half a file or a bad one)."""
        _ensure_dir(os.path.dirname(op.path))
        with open(op.path + ".new", "w") as fh:
            fh.write(op.text)
        os.chmod(op.path + ".new", 0o644)
        conf = validation_conf(op.path, op.text)
        if conf is not None:
            with open(op.path + ".check", "w") as fh:
                fh.write(conf)
            proc = _run("dnsmasq", "--test", f"--conf-file={op.path}.check", check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"dnsmasq rejects {op.path}: {proc.stderr.strip()}")
        os.replace(op.path + ".new", op.path)

    def _do_StartProcess(self, op: P.StartProcess, _net: str) -> None:
        _ensure_dir(os.path.dirname(op.pid_file))
        if os.path.exists(op.pid_file):
            os.unlink(op.pid_file)
        err = open(f"{op.pid_file}.err", "ab")
        # dnsmasq daemonizes itself; the proxy is detached with setsid -f. Either way
        # the process outlives this worker (a restart finds it through its pid file).
        prefix = ("setsid", "-f") if op.name == "proxy" else ()
        inside = ("ip", "netns", "exec", op.netns) if op.netns else ()
        subprocess.run([*prefix, *inside, *op.argv], stdin=subprocess.DEVNULL,
                       stdout=err, stderr=err, timeout=30, check=True)
        err.close()
        deadline = time.monotonic() + 10
        while _proc(op.pid_file, op.pid_file) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{op.name} did not start: {(_read(op.pid_file + '.err') or '')[-300:]}")
            time.sleep(0.05)

    def _do_StopProcess(self, op: P.StopProcess, _net: str) -> None:
        if _proc_matches(op.pid, op.marker):
            os.kill(op.pid, signal.SIGTERM)
            deadline = time.monotonic() + 3
            while _proc_matches(op.pid, op.marker) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _proc_matches(op.pid, op.marker):
                os.kill(op.pid, signal.SIGKILL)

    def _do_ReloadDnsmasq(self, op: P.ReloadDnsmasq, _net: str) -> None:
        if not _proc_matches(op.pid, op.marker):
            raise RuntimeError(f"dnsmasq {op.pid} is gone")
        os.kill(op.pid, signal.SIGHUP)

    def _do_ReleaseLease(self, op: P.ReleaseLease, _net: str) -> None:
        _run("ip", "netns", "exec", op.netns, self.cfg.python, "-m", "netledger.services.dhcp.release",
             op.interface, op.server_ip, op.ip, op.mac, check=False)

    def _do_UnplugPort(self, op: P.UnplugPort, _net: str) -> None:
        self._vsctl("--if-exists", "del-port", self.cfg.bridge, op.interface)

    def _do_DeleteNetns(self, op: P.DeleteNetns, _net: str) -> None:
        _run("ip", "netns", "delete", op.netns, check=False)

    def _do_RemoveDir(self, op: P.RemoveDir, _net: str) -> None:
        if op.dir.startswith(self.cfg.root + "/"):
            shutil.rmtree(op.dir, ignore_errors=True)


def _ensure_dir(path: str) -> None:
    """dnsmasq drops to user nobody and re-reads its files on SIGHUP: the directory must
    be searchable and the files readable by others (they hold no secrets)."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)


def _proc_matches(pid: int, marker: str) -> bool:
    argv = proc_argv(pid)
    return bool(argv) and any(marker in a for a in argv)
