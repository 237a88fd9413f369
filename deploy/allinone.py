"""The all-in-one: embedded nats-server, topology, API and, when the host can run them,
every worker of this host (L2, L3, DHCP, load balancer, VPN), supervised in one
process group with logs under ``var/log``.

``netledger up`` stays in the foreground; ``--detach`` forks the supervisor, waits
for the API to answer and prints the ready line; ``netledger down`` stops it by pid.
"""

from __future__ import annotations

import json
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
            "nats": os.path.join(var, "nats"), "services": os.path.join(var, "services.json"),
            "ovsdb": os.path.join(var, "ovs", "db.sock"), "secrets": os.path.join(var, "secrets")}


def _credentials_env(cfg: Config, paths: dict, names) -> dict[str, dict[str, str]]:
    """Per child, the NATS identity it connects as (libs/bus.py reads the variable):
    topology and API are the control plane, every agent runs as this host's user."""
    if not (cfg.embedded_nats and cfg.nats_auth):
        return {}
    host_user = nats_auth.worker_user_name(os.uname().nodename)
    return {name: {"NETLEDGER_NATS_CREDENTIALS": nats_auth.credentials_path(
        paths["secrets"], name if name in nats_auth.SERVICE_USERS else host_user)} for name in names}


def dataplane(cfg: Config) -> tuple[str, str] | None:
    """(namespace, ovsdb URL) of this host's all-in-one dataplane, if one is running:
    what `port plug/unplug` default to on the all-in-one host."""
    sock = _paths(cfg)["ovsdb"]
    return (cfg.aio_netns, f"unix:{sock}") if os.path.exists(sock) else None


def _service_cmds(cfg: Config, l2: bool, ovsdb: str | None) -> dict[str, list[str]]:
    """Worker subcommands take --nats/--prefix after their own name (their parsers own them)."""
    base = [sys.executable, "-m", "netledger.cli", "--nats", cfg.effective_nats_url, "--prefix", cfg.prefix]
    common = ["--nats", cfg.effective_nats_url, "--prefix", cfg.prefix]
    cmds = {"topology": base + ["topology"], "api": base + ["api", "--port", str(cfg.api_port)]}
    if l2 and ovsdb:
        var = os.path.abspath(cfg.var_dir)
        host = os.uname().nodename
        node = ["--host", host, "--ovsdb", ovsdb, *common]
        # Agents' namespaces carry the all-in-one's prefix: `down` removes them.
        in_aio = ["--host-netns", cfg.aio_netns, "--netns-prefix", cfg.aio_netns_prefix]
        cli = base[:3]
        cmds["l2-agent"] = cli + ["l2-agent", *node, "--backend", "ovs", "--tunnel-ip", "127.0.0.1"]
        cmds["l3-agent"] = cli + ["l3-agent", *node, *in_aio]
        cmds["dhcp-agent"] = cli + ["dhcp-agent", *node, *in_aio, "--state-dir", os.path.join(var, "dhcp")]
        cmds["lb-agent"] = cli + ["lb-agent", *node, *in_aio, "--state-dir", os.path.join(var, "lb")]
        # charon runs inside the l3-agent's router namespaces: same prefix, no OVS access.
        cmds["vpn-agent"] = cli + ["vpn-agent", "--host", host, *common, "--netns-prefix", cfg.aio_netns_prefix,
                                   "--state-dir", os.path.join(var, "vpn")]
    return cmds


def _start_dataplane(cfg: Config, paths: dict):
    """A private OVS (userspace datapath) whose vswitchd lives in its own namespace, so
    the all-in-one never adds bridges, addresses or routes to the host's namespace."""
    from .ovs import OvsNode, ovs_available

    if os.geteuid() != 0 or not ovs_available():
        log.warning("no local dataplane: needs root and Open vSwitch; API-only all-in-one")
        return None
    if cfg.aio_netns not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split():
        subprocess.run(["ip", "netns", "add", cfg.aio_netns], check=True)
    subprocess.run(["ip", "netns", "exec", cfg.aio_netns, "ip", "link", "set", "lo", "up"], check=True)
    node = OvsNode(name=os.uname().nodename, netns=cfg.aio_netns, rundir=os.path.join(paths["var"], "ovs"))
    node.start()
    return node


def ready_line(cfg: Config) -> str:
    grpc = f"gRPC {cfg.grpc_host}:{cfg.grpc_port}  " if cfg.grpc_port else ""
    return (f"netledger ready: API http://{cfg.api_host}:{cfg.api_port}/v2.0  {grpc}NATS {cfg.effective_nats_url}  "
            f"projection {os.path.abspath(cfg.effective_db_path)}  logs {_paths(cfg)['log']}  "
            f"dataplane namespace {cfg.aio_netns} (OVS db unix:{_paths(cfg)['ovsdb']})")


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


def up(cfg: Config, *, detach: bool = False, l2: bool = True, config_path: str | None = None) -> None:
    paths = _paths(cfg)
    os.makedirs(paths["log"], exist_ok=True)
    if detach:
        return _detach(cfg, paths, l2, config_path)
    cfg.var_dir = paths["var"]
    os.environ["NETLEDGER_VAR_DIR"] = paths["var"]
    _Supervisor(cfg, paths, l2).run()


def _detach(cfg: Config, paths: dict, l2: bool, config_path: str | None = None) -> None:
    if _running_pid(paths["pid"]):
        sys.stdout.write(f"netledger is already running (pid {_running_pid(paths['pid'])})\n" + ready_line(cfg) + "\n")
        return
    args = [sys.executable, "-m", "netledger.cli"] + (["--nats", cfg.nats_url] if cfg.nats_url else []) + ["up"]
    args += [] if l2 else ["--no-l2"]
    with open(os.path.join(paths["log"], "up.log"), "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=out, start_new_session=True,
                                env={**os.environ, "NETLEDGER_VAR_DIR": paths["var"],
                                     **({"NETLEDGER_CONFIG": os.path.abspath(config_path)} if config_path else {})})
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


def _delete_namespaces(cfg: Config) -> None:
    """The all-in-one's own namespaces: the dataplane one and the agents' (prefixed)."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split("\n")
    for name in (line.split()[0] for line in listed if line.strip()):
        if name == cfg.aio_netns or name.startswith(cfg.aio_netns_prefix):
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
        self.ovs = _start_dataplane(self.cfg, self.paths) if self.l2 else None
        cmds = _service_cmds(self.cfg, self.l2, self.ovs.db if self.ovs else None)
        self.creds = _credentials_env(self.cfg, self.paths, cmds)
        for name, cmd in cmds.items():
            self._start(name, cmd)
        self._write_services()
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
                    self._write_services()

    def _write_services(self) -> None:
        """name -> pid of every child, for `netledger status` (written whole, then renamed)."""
        pids = {name: proc.pid for name, proc in self.children.items()}
        if self.nats:
            pids = {"nats-server": self.nats.pid, **pids}
        tmp = self.paths["services"] + ".new"
        with open(tmp, "w") as fh:
            json.dump(pids, fh)
        os.replace(tmp, self.paths["services"])

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
            _delete_namespaces(self.cfg)
        if self.nats:
            self.nats.terminate()
            self.nats.wait(timeout=10)
        try:
            os.unlink(self.paths["services"])
        except OSError:
            pass
        log.info("stopped")


def status(cfg: Config) -> int:
    """Each supervised service with its pid and state, then the agent list as the API
    reports it (alive = heartbeat within agent_down_time). 0 when everything runs."""
    paths = _paths(cfg)
    sup = _running_pid(paths["pid"])
    out = [f"supervisor  {'running' if sup else 'stopped'}" + (f"  pid {sup}" if sup else "")]
    try:
        pids = json.load(open(paths["services"]))
    except (OSError, ValueError):
        pids = {}
    down_count = 0 if sup else 1
    for name, pid in pids.items():
        alive = _pid_alive(pid)
        down_count += not alive
        out.append(f"{name:<12}{'running' if alive else 'DEAD'}  pid {pid}")
    try:
        with urllib.request.urlopen(f"http://{cfg.api_host}:{cfg.api_port}/v2.0/agents", timeout=5) as resp:
            agents = json.load(resp)["agents"]
    except OSError as exc:
        agents = []
        out.append(f"agents      API not answering ({exc})")
    for a in sorted(agents, key=lambda a: (a["agent_type"], a["host"])):
        out.append(f"agent       {a['agent_type']:<20} {a['host']}  {'alive' if a['alive'] else 'DOWN'}")
        down_count += not a["alive"]
    sys.stdout.write("\n".join(out) + "\n")
    return 1 if down_count else 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(int(pid), 0)
        return True
    except (OSError, ValueError):
        return False
