"""A private ovsdb-server + ovs-vswitchd per simulated host (userspace datapath).

Each node keeps its database, sockets, pid and log files in its own run dir, so
several "hypervisors" share one machine without touching the host's own OVS:
every command here names its socket explicitly (``--db=unix:...``, ``-t ...ctl``,
``unix:<rundir>/<bridge>.mgmt``). ovs-vswitchd runs inside the host's network
namespace (its internal ports are created there); ovsdb-server only listens on a
unix socket, so it runs in the caller's namespace. Teardown kills by pid only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


def ovs_available() -> bool:
    return all(shutil.which(b) for b in ("ovs-vswitchd", "ovsdb-server", "ovs-vsctl", "ovs-ofctl"))


@dataclass
class OvsNode:
    """One private OVS instance: ``start()`` then ``stop()`` (idempotent)."""

    name: str
    netns: str
    rundir: str
    vswitchd_args: tuple[str, ...] = ()     # e.g. ("--enable-dummy",) for cheap bench ports

    @property
    def db(self) -> str:
        return f"unix:{self.rundir}/db.sock"

    def mgmt(self, bridge: str) -> str:
        return f"unix:{self.rundir}/{bridge}.mgmt"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "OVS_RUNDIR": self.rundir, "OVS_DBDIR": self.rundir,
                "OVS_LOGDIR": self.rundir}

    def start(self) -> None:
        os.makedirs(self.rundir, exist_ok=True)
        conf = f"{self.rundir}/conf.db"
        if not os.path.exists(conf):
            _run(["ovsdb-tool", "create", conf, SCHEMA])
        d = self.rundir
        _run(["ovsdb-server", conf, f"--remote=punix:{d}/db.sock", f"--pidfile={d}/ovsdb-server.pid",
              f"--log-file={d}/ovsdb-server.log", f"--unixctl={d}/ovsdb-server.ctl",
              "--detach", "--no-chdir", "-vconsole:emer"], env=self.env)
        self.vsctl("--no-wait", "init")
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".", f"external-ids:system-id={self.name}",
                   f"external-ids:hostname={self.name}")
        _run(["ip", "netns", "exec", self.netns, "ovs-vswitchd", self.db, f"--pidfile={d}/ovs-vswitchd.pid",
              f"--log-file={d}/ovs-vswitchd.log", f"--unixctl={d}/ovs-vswitchd.ctl",
              "--detach", "--no-chdir", "-vconsole:emer", *self.vswitchd_args], env=self.env)

    def vsctl(self, *args: str, timeout: int = 10) -> str:
        return _run(["ovs-vsctl", f"--db={self.db}", f"--timeout={timeout}", *args], env=self.env)

    def ofctl(self, cmd: str, bridge: str, *args: str, stdin: str | None = None) -> str:
        return _run(["ovs-ofctl", cmd, self.mgmt(bridge), *args], env=self.env, stdin=stdin)

    def appctl(self, *args: str) -> str:
        return _run(["ovs-appctl", "-t", f"{self.rundir}/ovs-vswitchd.ctl", *args], env=self.env)

    def pids(self) -> list[int]:
        out = []
        for name in ("ovs-vswitchd", "ovsdb-server"):
            try:
                with open(f"{self.rundir}/{name}.pid") as fh:
                    out.append(int(fh.read().strip()))
            except (OSError, ValueError):
                pass
        return out

    def stop(self) -> None:
        """Kill our two daemons by pid (vswitchd first), then remove the run dir."""
        for pid in self.pids():
            _kill_wait(pid)
        shutil.rmtree(self.rundir, ignore_errors=True)


def _kill_wait(pid: int, timeout: float = 5.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _run(cmd: list[str], *, env: dict | None = None, stdin: str | None = None) -> str:
    proc = subprocess.run(cmd, env=env, input=stdin, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        shown = " ".join(cmd)
        shown = shown if len(shown) < 300 else shown[:300] + " ..."
        raise RuntimeError(f"{shown} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return proc.stdout
