"""The all-in-one: embedded nats-server, topology, API (and a local L2 worker when the
host can run one), supervised in one process group with logs under ``var/log``.

``netledger up`` stays in the foreground; ``--detach`` forks the supervisor, waits
for the API to answer and prints the ready line; ``netledger down`` stops it by pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import structlog

from netledger.config import Config

from . import nats as nats_deploy
from . import nats_auth

log = structlog.get_logger("up")


def _paths(cfg: Config) -> dict[str, str]:
    var = os.path.abspath(cfg.var_dir)
    return {"var": var, "log": os.path.join(var, "log"), "pid": os.path.join(var, "netledger.pid"),
            "nats": os.path.join(var, "nats"), "secrets": os.path.join(var, "secrets")}


def _credentials_env(cfg: Config, paths: dict, names) -> dict[str, dict[str, str]]:
    """Per child, the NATS identity it connects as (libs/bus.py reads the variable):
    topology and API are the control plane, every agent runs as this host's user."""
    if not (cfg.embedded_nats and cfg.nats_auth):
        return {}
    host_user = nats_auth.worker_user_name(os.uname().nodename)
    return {name: {"NETLEDGER_NATS_CREDENTIALS": nats_auth.credentials_path(
        paths["secrets"], name if name in nats_auth.SERVICE_USERS else host_user)} for name in names}


AIO_NETNS = "netledger-aio"
AIO_PREFIX = "nlaio-"


def _service_cmds(cfg: Config, l2: bool, ovsdb: str | None) -> dict[str, list[str]]:
    """Worker subcommands take --nats/--prefix after their own name (their parsers own them)."""
    base = [sys.executable, "-m", "netledger.cli", "--nats", cfg.effective_nats_url, "--prefix", cfg.prefix]
    common = ["--nats", cfg.effective_nats_url, "--prefix", cfg.prefix]
    cmds = {"topology": base + ["topology"], "api": base + ["api"]}
    if l2 and ovsdb:
        host = os.uname().nodename
        node = ["--host", host, "--ovsdb", ovsdb, *common]
        cmds["l2-agent"] = base[:3] + ["l2-agent", *node, "--backend", "ovs", "--tunnel-ip", "127.0.0.1"]
        for agent in ("l3-agent", "dhcp-agent"):
            # Router and DHCP namespaces carry the all-in-one's prefix: `down` removes them.
            cmds[agent] = base[:3] + [agent, *node, "--host-netns", AIO_NETNS, "--netns-prefix", AIO_PREFIX]
        cmds["dhcp-agent"] += ["--state-dir", os.path.join(os.path.abspath(cfg.var_dir), "dhcp")]
    return cmds


def _start_dataplane(paths: dict):
    """A private OVS (userspace datapath) whose vswitchd lives in its own namespace, so
    the all-in-one never adds bridges, addresses or routes to the host's namespace."""
    from .ovs import OvsNode, ovs_available

    if os.geteuid() != 0 or not ovs_available():
        log.warning("no local dataplane: needs root and Open vSwitch; API-only all-in-one")
        return None
    if AIO_NETNS not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split():
        subprocess.run(["ip", "netns", "add", AIO_NETNS], check=True)
    subprocess.run(["ip", "netns", "exec", AIO_NETNS, "ip", "link", "set", "lo", "up"], check=True)
    node = OvsNode(name=os.uname().nodename, netns=AIO_NETNS, rundir=os.path.join(paths["var"], "ovs"))
    node.start()
    return node


def ready_line(cfg: Config) -> str:
    return (f"netledger ready: API http://{cfg.api_host}:{cfg.api_port}/v2.0  NATS {cfg.effective_nats_url}  "
            f"projection {os.path.abspath(cfg.effective_db_path)}  logs {_paths(cfg)['log']}  "
            f"dataplane namespace {AIO_NETNS} (OVS db unix:{_paths(cfg)['var']}/ovs/db.sock)")


def wait_api(cfg: Config, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{cfg.api_host}:{cfg.api_port}/", timeout=1) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.2)
    return False


def up(cfg: Config, *, detach: bool = False, l2: bool = True) -> None:
    paths = _paths(cfg)
    os.makedirs(paths["log"], exist_ok=True)
    if detach:
        return _detach(cfg, paths, l2)
    cfg.var_dir = paths["var"]
    os.environ["NETLEDGER_VAR_DIR"] = paths["var"]
    _Supervisor(cfg, paths, l2).run()


def _detach(cfg: Config, paths: dict, l2: bool) -> None:
    if _running_pid(paths["pid"]):
        sys.stdout.write(f"netledger is already running (pid {_running_pid(paths['pid'])})\n" + ready_line(cfg) + "\n")
        return
    args = [sys.executable, "-m", "netledger.cli"] + (["--nats", cfg.nats_url] if cfg.nats_url else []) + ["up"]
    args += [] if l2 else ["--no-l2"]
    with open(os.path.join(paths["log"], "up.log"), "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=out, start_new_session=True,
                                env={**os.environ, "NETLEDGER_VAR_DIR": paths["var"]})
    with open(paths["pid"], "w") as fh:
        fh.write(str(proc.pid))
    if not wait_api(cfg):
        raise SystemExit(f"netledger did not become ready; see {paths['log']}")
    sys.stdout.write(ready_line(cfg) + "\n")


def _running_pid(pid_path: str) -> int | None:
    try:
        pid = int(open(pid_path).read().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def down(cfg: Config) -> None:
    paths = _paths(cfg)
    pid = _running_pid(paths["pid"])
    if not pid:
        sys.stdout.write("netledger is not running\n")
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(150):
        if not _running_pid(paths["pid"]):
            break
        time.sleep(0.1)
    os.unlink(paths["pid"])
    sys.stdout.write(f"netledger stopped (pid {pid})\n")


def _stop_helpers(var: str) -> None:
    """dnsmasq, metadata proxies, haproxy and charon that our agents started keep running
    after the agents (so a restarted agent finds them); `down` stops them, found by their
    command line naming our var directory."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if var in cmdline and "netledger.cli" not in cmdline:
            try:
                os.kill(int(entry), signal.SIGTERM)
            except OSError:
                pass


def _delete_namespaces() -> None:
    """The all-in-one's own namespaces: the dataplane one and the agents' (prefixed)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split("\n")
    for name in (line.split()[0] for line in listed if line.strip()):
        if name == AIO_NETNS or name.startswith(AIO_PREFIX):
            for pid in subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGTERM)   # dnsmasq, haproxy, charon started by our agents
                except (OSError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "delete", name], check=False)


class _Supervisor:
    """Starts the children, restarts any that dies (with backoff), stops all on SIGTERM."""

    def __init__(self, cfg: Config, paths: dict, l2: bool) -> None:
        self.cfg, self.paths, self.l2 = cfg, paths, l2
        self.nats: subprocess.Popen | None = None
        self.children: dict[str, subprocess.Popen] = {}
        self.stopping = False
        self.creds: dict[str, dict[str, str]] = {}

    def _start(self, name: str, cmd: list[str]) -> None:
        out = open(os.path.join(self.paths["log"], f"{name}.log"), "ab")
        env = {**os.environ, **self.creds.get(name, {})}
        self.children[name] = subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True, env=env)
        log.info("started", service=name, pid=self.children[name].pid)

    def run(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self._stop())
        signal.signal(signal.SIGINT, lambda *_: self._stop())
        if self.cfg.embedded_nats:
            users = nats_auth.ensure_credentials(self.paths["secrets"], prefix=self.cfg.prefix,
                                                 hosts=[os.uname().nodename]) if self.cfg.nats_auth else []
            self.nats = nats_deploy.start(workdir=self.paths["nats"], port=self.cfg.nats_port,
                                          sync_always=self.cfg.nats_sync_always,
                                          log_path=os.path.join(self.paths["log"], "nats.log"),
                                          authorization=nats_auth.render_authorization(users) if users else "")
            log.info("started", service="nats-server", pid=self.nats.pid, url=self.cfg.effective_nats_url)
        self.ovs = _start_dataplane(self.paths) if self.l2 else None
        cmds = _service_cmds(self.cfg, self.l2, self.ovs.db if self.ovs else None)
        self.creds = _credentials_env(self.cfg, self.paths, cmds)
        for name, cmd in cmds.items():
            self._start(name, cmd)
        if wait_api(self.cfg):
            log.info("ready", line=ready_line(self.cfg))
            sys.stdout.write(ready_line(self.cfg) + "\n")
            sys.stdout.flush()
        backoff: dict[str, float] = {}
        while not self.stopping:
            time.sleep(0.5)
            for name, proc in list(self.children.items()):
                if proc.poll() is not None and not self.stopping:
                    delay = min(backoff.get(name, 0.5) * 2, 30)
                    backoff[name] = delay
                    log.warning("service exited; restarting", service=name, code=proc.returncode, delay=delay)
                    time.sleep(delay)
                    self._start(name, cmds[name])

    def _stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        for name, proc in reversed(list(self.children.items())):
            proc.terminate()
        for proc in self.children.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        _stop_helpers(self.paths["var"])
        if getattr(self, "ovs", None):
            self.ovs.stop()
            _delete_namespaces()
        if self.nats:
            self.nats.terminate()
            self.nats.wait(timeout=10)
        log.info("stopped")
