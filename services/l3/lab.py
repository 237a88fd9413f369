"""An L3 lab on simulated hosts (dataplane tests and bench_l3): the real stack.

topology + API as subprocesses on a given nats-server, one L2 and one L3 worker per
simulated host in this process, an "external" namespace on the launcher's physical
network (flat physnet1, 203.0.113.0/24) running an HTTP server that echoes the
client address, and instance namespaces plugged like os-vif does.
Safety: every namespace is ``<cluster prefix>-...``; processes are stopped by pid;
the Cluster (owned by the caller) deletes the namespaces and OVS daemons.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from netledger.deploy.hosts import Cluster, SimHost, ns_add, ns_delete
from netledger.libs.bus import connect, ensure_streams
from netledger.libs.events.subjects import Subjects
from netledger.services.l2.agent import build_worker
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.driver_plug import PlugSpec, plug, unplug
from netledger.services.topology.intents_l3 import l3_bucket

from .config import L3Config
from .worker import L3Worker

EXT_IP, EXT_CIDR = "203.0.113.1", "203.0.113.0/24"
ECHO = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.client_address[0].encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""


def sh(*cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} -> {proc.returncode}: {proc.stdout}{proc.stderr}")
    return proc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class L3Lab:
    def __init__(self, cluster: Cluster, nats_url: str, *, prefix: str, down_time: float = 15.0) -> None:
        # down_time: how stale a heartbeat must be before routers fail over. Generous by
        # default because tests make blocking calls (a curl that must time out) on the loop
        # the in-process workers heartbeat from; the benchmark uses 3 s.
        self.cluster, self.nats_url, self.prefix, self.down_time = cluster, nats_url, prefix, down_time
        self.workdir = tempfile.mkdtemp(prefix=f"{cluster.prefix}-lab-")
        self.procs: dict[str, subprocess.Popen] = {}
        self.tasks: dict[str, tuple[asyncio.Task, asyncio.Event]] = {}
        self.l3: dict[str, L3Worker] = {}
        self.instances: list[tuple[SimHost, str, str]] = []
        self.api_url = ""
        self.ext_ns = f"{cluster.prefix}-ext"

    # --- lifecycle
    async def start(self) -> None:
        env = {**os.environ, "NETLEDGER_VAR_DIR": self.workdir, "NETLEDGER_LOG_LEVEL": "info",
               "NETLEDGER_AGENT_DOWN_TIME": str(self.down_time)}
        port = _free_port()
        self.api_url = f"http://127.0.0.1:{port}"
        base = [sys.executable, "-m", "netledger.cli", "--nats", self.nats_url, "--prefix", self.prefix]
        for name, args in (("topology", ["topology"]), ("api", ["api", "--port", str(port)])):
            log = open(os.path.join(self.workdir, f"{name}.log"), "ab")
            self.procs[name] = subprocess.Popen(base + args, env=env, stdout=log, stderr=log, start_new_session=True)
        await asyncio.to_thread(self._wait_http)
        self.bus = await connect(self.nats_url, name="l3-lab", subjects=Subjects(self.prefix))
        await ensure_streams(self.bus)
        for h in self.cluster.hosts:
            await self.start_l2(h)
            await self.start_l3(h)
        self._external()
        await self.wait(lambda: self._agents_alive(2 * len(self.cluster.hosts)), 20, "agents alive")

    def _wait_http(self) -> None:
        deadline = time.monotonic() + 60     # shared 2-vCPU machines start slowly under load
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.api_url + "/", timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"API did not answer; see {self.workdir}/api.log")

    async def start_l2(self, h: SimHost):
        cfg = AgentConfig(host=h.name, tunnel_ip=h.tunnel_ip, bridge_mappings=h.bridge_mappings, ovsdb=h.ovsdb,
                          resync_interval=2.0, heartbeat_interval=1.0)
        w = await build_worker(self.bus, cfg)
        self._spawn(f"l2:{h.name}", w)
        await asyncio.wait_for(w.synced.wait(), 20)

    async def start_l3(self, h: SimHost) -> L3Worker:
        # Namespace names are global: each simulated host gets its own prefix.
        cfg = L3Config(host=h.name, ovsdb=h.ovsdb, host_netns=h.netns, netns_prefix=f"{h.netns}-",
                       resync_interval=2.0, heartbeat_interval=1.0)
        w = L3Worker(self.bus, l3_bucket(self.prefix), cfg)
        self._spawn(f"l3:{h.name}", w)
        self.l3[h.name] = w
        await asyncio.wait_for(w.synced.wait(), 20)
        return w

    def _spawn(self, key: str, worker) -> None:
        stop = asyncio.Event()
        self.tasks[key] = (asyncio.create_task(worker.run(stop)), stop)

    async def stop_worker(self, key: str) -> None:
        task, stop = self.tasks.pop(key)
        stop.set()
        await asyncio.wait_for(task, 15)

    async def kill_l3(self, h: SimHost) -> None:
        """A dead worker: its task is cancelled (no goodbye); its namespace stays."""
        task, _ = self.tasks.pop(f"l3:{h.name}")
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    def _external(self) -> None:
        """The "internet": a namespace on the physical network's wire, with an echo server."""
        ns_add(self.ext_ns)
        ul = self.cluster.underlay_ns
        sh("ip", "link", "add", "ext0", "netns", self.ext_ns, "type", "veth", "peer", "name", "x-ext", "netns", ul)
        sh("ip", "-n", ul, "link", "set", "x-ext", "master", "br-px", "up")
        sh("ip", "-n", self.ext_ns, "addr", "add", f"{EXT_IP}/24", "dev", "ext0")
        sh("ip", "-n", self.ext_ns, "link", "set", "ext0", "up")
        sh("ip", "netns", "exec", self.ext_ns, "ethtool", "-K", "ext0", "tx", "off")
        self.echo(self.ext_ns, EXT_IP)

    def echo(self, ns: str, ip: str, port: int = 8000) -> None:
        self.procs[f"echo:{ns}"] = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", ECHO, ip,
                                                     str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def close(self) -> None:
        for key in list(self.tasks):
            try:
                await self.stop_worker(key)
            except Exception:  # noqa: BLE001 - teardown goes on
                pass
        for h, port_id, netns in self.instances:
            await asyncio.to_thread(unplug, port_id, netns, host_netns=h.netns, ovsdb=h.ovsdb)
            ns_delete(netns)
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        ns_delete(self.ext_ns)
        if getattr(self, "bus", None):
            await self.bus.nc.drain()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- API
    def _call(self, method: str, path: str, body=None) -> tuple[int, dict | None]:
        req = urllib.request.Request(self.api_url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None

    async def api(self, method: str, path: str, body=None, ok: tuple[int, ...] = (200, 201, 204)):
        status, out = await asyncio.to_thread(self._call, method, path, body)
        if status not in ok:
            raise AssertionError(f"{method} {path} -> {status}: {out}")
        return out

    async def create(self, kind: str, **attrs) -> dict:
        return (await self.api("POST", f"/v2.0/{kind}s", {kind: attrs}))[kind]

    def _agents_alive(self, n: int) -> bool:
        status, body = self._call("GET", "/v2.0/agents")
        return status == 200 and sum(1 for a in body["agents"] if a["alive"]) >= n

    # --- topology helpers
    async def external_network(self) -> tuple[dict, dict]:
        net = await self.create("network", name="public", **{"router:external": True, "provider:network_type": "flat",
                                                             "provider:physical_network": "physnet1"})
        sub = await self.create("subnet", network_id=net["id"], cidr=EXT_CIDR, ip_version=4, gateway_ip=EXT_IP,
                                allocation_pools=[{"start": "203.0.113.10", "end": "203.0.113.250"}],
                                enable_dhcp=False)
        return net, sub

    async def lan(self, cidr: str, project: str = "") -> tuple[dict, dict]:
        extra = {"project_id": project} if project else {}
        net = await self.create("network", name=f"lan-{cidr}", **extra)
        sub = await self.create("subnet", network_id=net["id"], cidr=cidr, ip_version=4, enable_dhcp=False, **extra)
        return net, sub

    async def instance(self, i: int, network: dict, subnet: dict, *, ip: str | None = None) -> tuple[dict, str]:
        """A port bound to host i, plugged into a new namespace with its address and
        a default route via the subnet's gateway; returns (port, netns)."""
        h = self.cluster.hosts[i]
        fixed = [{"subnet_id": subnet["id"], **({"ip_address": ip} if ip else {})}]
        # Port security off: these labs test routing/NAT/LB, not security groups (which
        # would, as in Neutron, block inbound traffic from outside the default group).
        port = await self.create("port", network_id=network["id"], fixed_ips=fixed, device_owner="compute:nova",
                                 device_id=f"vm-{len(self.instances)}", **{"binding:host_id": h.name},
                                 project_id=network["project_id"], port_security_enabled=False)
        netns = f"{self.cluster.prefix}-vm-{port['id'][:8]}"
        await asyncio.to_thread(plug, PlugSpec(port_id=port["id"], netns=netns, mac=port["mac_address"],
                                               mtu=network["mtu"], host_netns=h.netns, ovsdb=h.ovsdb))
        self.instances.append((h, port["id"], netns))
        plen = subnet["cidr"].split("/")[1]
        sh("ip", "-n", netns, "addr", "add", f"{port['fixed_ips'][0]['ip_address']}/{plen}", "dev", "eth0")
        sh("ip", "-n", netns, "route", "add", "default", "via", subnet["gateway_ip"])
        return port, netns

    async def wait(self, check, timeout: float, what: str) -> float:
        start = time.monotonic()
        while True:
            # Checks run curl/ping: in a thread, so the in-process workers keep
            # heartbeating (a blocked loop looks like a dead worker and triggers failover).
            res = await asyncio.to_thread(check)
            if asyncio.iscoroutine(res):
                res = await res
            if res:
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise AssertionError(f"timed out after {timeout}s: {what}")
            await asyncio.sleep(0.1)


def curl(ns: str, url: str, timeout: float = 2) -> str | None:
    """The body (the echo server answers with the client address) or None."""
    r = sh("ip", "netns", "exec", ns, "curl", "-s", "-m", str(timeout), url, check=False, timeout=timeout + 5)
    return r.stdout.strip() if r.returncode == 0 else None


def ping(ns: str, ip: str, count: int = 1, wait: float = 1) -> bool:
    return sh("ip", "netns", "exec", ns, "ping", "-c", str(count), "-i", "0.2", "-W", str(wait), ip,
              check=False).returncode == 0
