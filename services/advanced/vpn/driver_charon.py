"""The only module of the VPN worker that touches the host: charon, files, routes.

One charon per router, started as ``ip netns exec <router ns> sh -c 'mount -t tmpfs
tmpfs /run && exec charon'`` (``ip netns exec`` gives it a private mount namespace, so
the tmpfs -- charon's compiled-in pid file lives in /run -- never shows on the host and
vanishes with the process) with its own STRONGSWAN_CONF and vici socket in the
router's state directory. A charon is ours when its environment names our
strongswan.conf; it is stopped by pid only. Files holding PSKs are 0600 in a 0700
directory; command output is never logged whole (it could quote configuration).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess

import structlog

from netledger.libs.driver_host import CommandError, run as host_run

from . import model as M
from .config import CHARON, ROUTE_PROTO, VpnConfig
from .sas import ike_states

log = structlog.get_logger("vpn.driver")
FILES = ("strongswan.conf", "swanctl.conf")


async def run(*cmd: str, check: bool = True, timeout: float = 30) -> str:
    """Output of swanctl/ip, errors redacted (configs carry pre-shared keys)."""
    return await host_run(*cmd, check=check, timeout=timeout, redact=True)


class CharonDriver:
    def __init__(self, cfg: VpnConfig) -> None:
        self.cfg = cfg
        self.writes = 0
        self.procs: dict[int, subprocess.Popen] = {}     # charons we started (reaped here)

    def uri(self, rid: str) -> str:
        return f"unix://{self.cfg.statedir(rid)}/charon.vici"

    # --- observe
    def routers_on_disk(self) -> set[str]:
        try:
            return {d for d in os.listdir(self.cfg.state_dir) if os.path.isdir(self.cfg.statedir(d))}
        except FileNotFoundError:
            return set()

    def _pid(self, rid: str) -> int:
        """Our charon's pid, or 0: the recorded pid must be alive and run our config."""
        d = self.cfg.statedir(rid)
        try:
            pid = int(open(os.path.join(d, "charon.pid")).read())
        except (OSError, ValueError):
            return 0
        if pid in self.procs and self.procs[pid].poll() is not None:
            self.procs.pop(pid)
            return 0
        try:
            environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            return 0
        return pid if f"STRONGSWAN_CONF={d}/strongswan.conf".encode() in environ else 0

    async def observe(self, rid: str) -> M.Seen:
        d, ns = self.cfg.statedir(rid), self.cfg.netns(rid)
        nsx = os.path.exists(f"/run/netns/{ns}")
        files = {}
        for rel in (*FILES, *(f"conns/{f}" for f in _listdir(os.path.join(d, "conns")))):
            try:
                files[rel] = M.sha(open(os.path.join(d, rel)).read())
            except OSError:
                pass
        pid = self._pid(rid)
        ok = bool(pid and nsx and _same_netns(pid, ns) and os.path.exists(os.path.join(d, "charon.vici")))
        sas = frozenset(await self.sa_states(rid)) if ok else frozenset()
        holes = frozenset()
        if nsx:
            raw = await run("ip", "-n", ns, "-j", "route", "show", "table", "main", "proto", str(ROUTE_PROTO),
                            "type", "blackhole")
            holes = frozenset(r["dst"] if "/" in r["dst"] else f"{r['dst']}/32" for r in json.loads(raw or "[]"))
        return M.Seen(router_id=rid, netns=ns, netns_exists=nsx, dir_exists=os.path.isdir(d), files=files,
                      pid=pid, charon_ok=ok, loaded_digest=_read(os.path.join(d, "loaded.digest")) if ok else "",
                      ike_sas=sas, blackholes=holes)

    async def sa_states(self, rid: str) -> dict:
        return ike_states(await run("swanctl", "--list-sas", "--raw", "--uri", self.uri(rid), timeout=15))

    # --- apply
    async def apply(self, ops: list[M.Op]) -> None:
        for op in ops:
            await self._one(op)
            self.writes += 1

    async def _one(self, op: M.Op) -> None:
        d = self.cfg.statedir(op.router_id)
        match op:
            case M.WriteFile(path=p, text=t):
                _write_secret(os.path.join(d, p), t)
            case M.DelFile(path=p):
                os.unlink(os.path.join(d, p))
            case M.AddBlackhole(netns=ns, cidr=c):
                await run("ip", "-n", ns, "route", "replace", "blackhole", c, "proto", str(ROUTE_PROTO))
            case M.DelBlackhole(netns=ns, cidr=c):
                await run("ip", "-n", ns, "route", "del", "blackhole", c, "proto", str(ROUTE_PROTO), check=False)
            case M.StartCharon(netns=ns):
                await self._start(op.router_id, ns)
            case M.StopCharon(pid=pid):
                await self.stop(pid)
            case M.LoadAll(digest=digest):
                await run("swanctl", "--load-all", "--file", os.path.join(d, "swanctl.conf"),
                          "--uri", self.uri(op.router_id))
                _write_secret(os.path.join(d, "loaded.digest"), digest)
            case M.Terminate(ike=name):
                await run("swanctl", "--terminate", "--ike", name, "--force", "--timeout", "5",
                          "--uri", self.uri(op.router_id), check=False)
            case M.RemoveDir():
                if os.path.dirname(d) != self.cfg.state_dir.rstrip("/"):
                    raise ValueError("refusing to remove a directory that is not ours")
                shutil.rmtree(d, ignore_errors=True)

    async def _start(self, rid: str, ns: str) -> None:
        d = self.cfg.statedir(rid)
        for stale in ("charon.vici", "loaded.digest"):
            if os.path.exists(os.path.join(d, stale)):
                os.unlink(os.path.join(d, stale))
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
               "STRONGSWAN_CONF": os.path.join(d, "strongswan.conf")}
        out = open(os.path.join(d, "charon.stdout"), "ab")
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "sh", "-c", f"mount -t tmpfs tmpfs /run && exec {CHARON}"],
                                env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        self.procs[proc.pid] = proc
        _write_secret(os.path.join(d, "charon.pid"), str(proc.pid))
        for _ in range(200):
            if os.path.exists(os.path.join(d, "charon.vici")):
                log.info("charon started", router_id=rid, pid=proc.pid, netns=ns)
                return
            if proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        raise CommandError(f"charon for router {rid} did not open its vici socket (see {d}/charon.stdout)")

    async def stop(self, pid: int) -> None:
        """SIGTERM (charon removes its SAs, routes and TUN), then SIGKILL after 5 s."""
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            for _ in range(int(wait / 0.05)):
                if not _alive(pid, self.procs.get(pid)):
                    self.procs.pop(pid, None)
                    log.info("charon stopped", pid=pid)
                    return
                await asyncio.sleep(0.05)
        self.procs.pop(pid, None)

    async def stop_all(self) -> None:
        """Agent shutdown in tests: stop every charon this driver started."""
        for pid in list(self.procs):
            await self.stop(pid)


def _alive(pid: int, proc: subprocess.Popen | None) -> bool:
    if proc is not None:
        return proc.poll() is None
    try:
        return open(f"/proc/{pid}/stat").read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def _same_netns(pid: int, ns: str) -> bool:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{ns}").st_ino
    except OSError:
        return False


def _listdir(path: str) -> list[str]:
    try:
        return sorted(f for f in os.listdir(path) if f.endswith(".conf"))
    except FileNotFoundError:
        return []


def _read(path: str) -> str:
    try:
        return open(path).read()
    except OSError:
        return ""


def _write_secret(path: str, text: str) -> None:
    """Write-then-rename, 0600 from creation (never briefly world-readable)."""
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = path + ".new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
