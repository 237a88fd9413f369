"""Dataplane fixtures: simulated hosts (shared per module), in-process L2 workers per test.

Safety: everything lives in namespaces named ``nlt<6 hex>-...`` created here; the
Cluster fixture deletes them (and stops its OVS daemons by pid) even on failure.
Only 10.x addresses inside those namespaces and 127.0.0.1 (NATS) are used.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time

import pytest

from netledger.deploy.hosts import Cluster, SimHost, ns_delete
from netledger.deploy.ovs import ovs_available
from netledger.libs.bus import connect, ensure_streams
from netledger.libs.events import codec
from netledger.libs.events.intents import L2Network, L2Port
from netledger.libs.events.subjects import Subjects
from netledger.services.l2 import intents_kv
from netledger.services.l2.agent import build_worker, l2_bucket
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.driver_plug import PlugSpec, plug, tap_name, unplug
from netledger.services.l2.worker import L2Worker


def pytest_collection_modifyitems(config, items):
    reason = ""
    if os.geteuid() != 0:
        reason = "dataplane tests need root (network namespaces, OVS)"
    elif not ovs_available():
        reason = "ovs-vswitchd/ovsdb-server/ovs-vsctl/ovs-ofctl not installed"
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.dataplane)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")
def cluster():
    if os.geteuid() != 0 or not ovs_available():
        pytest.skip("needs root and OVS")
    with Cluster(count=2, physnet=True) as c:
        yield c


def sh(*cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {proc.returncode}: {proc.stdout}{proc.stderr}")
    return proc


class L2Env:
    """Workers for every host of the cluster, the KV bucket, and status reports."""

    def __init__(self, cluster: Cluster, url: str, prefix: str) -> None:
        self.cluster, self.url, self.prefix = cluster, url, prefix
        self.status: dict[str, str] = {}
        self.heartbeats: dict[str, object] = {}
        self.workers: dict[str, L2Worker] = {}
        self._tasks: dict[str, tuple[asyncio.Task, asyncio.Event]] = {}
        self.plugged: list[tuple[SimHost, str, str]] = []

    async def start(self) -> None:
        self.bus = await connect(self.url, name="l2-test", subjects=Subjects(self.prefix))
        await ensure_streams(self.bus)
        self.kv = await self.bus.js.key_value(l2_bucket(self.prefix))
        await self.bus.nc.subscribe(f"{self.prefix}.status.>", cb=self._on_status)
        for h in self.cluster.hosts:
            await self.start_worker(h)

    async def _on_status(self, msg) -> None:
        ev = codec.decode(msg.data).event
        if hasattr(ev, "port_id"):
            self.status[ev.port_id] = ev.status
        else:
            self.heartbeats[ev.host] = ev

    def config(self, h: SimHost) -> AgentConfig:
        return AgentConfig(host=h.name, tunnel_ip=h.tunnel_ip, bridge_mappings=h.bridge_mappings,
                           ovsdb=h.ovsdb, resync_interval=1.0, heartbeat_interval=1.0)

    async def start_worker(self, h: SimHost) -> L2Worker:
        w = await build_worker(self.bus, self.config(h))
        stop = asyncio.Event()
        self._tasks[h.name] = (asyncio.create_task(w.run(stop)), stop)
        self.workers[h.name] = w
        await asyncio.wait_for(w.synced.wait(), 60)      # generous: CI boxes are shared
        return w

    async def stop_worker(self, h: SimHost) -> None:
        task, stop = self._tasks.pop(h.name)
        stop.set()
        await asyncio.wait_for(task, 30)

    async def close(self) -> None:
        """Every step is attempted even if an earlier one fails; the first error is raised."""
        errors: list[BaseException] = []
        for h in self.cluster.hosts:
            if h.name in self._tasks:
                await _attempt(errors, self.stop_worker(h))
        for host, port_id, netns in self.plugged:
            await _attempt(errors, asyncio.to_thread(unplug, port_id, netns, host_netns=host.netns,
                                                     ovsdb=host.ovsdb))
            ns_delete(netns)
        await _attempt(errors, self.bus.nc.drain())
        if errors:
            raise errors[0]

    # --- instances and intents
    def host(self, i: int) -> SimHost:
        return self.cluster.hosts[i]

    async def instance(self, i: int, port_id: str, mac: str, cidr: str, mtu: int = 1400) -> str:
        """Plug an instance namespace on host i and give it an address; returns its netns."""
        h = self.host(i)
        netns = f"{self.cluster.prefix}-vm-{port_id[:8]}"
        await asyncio.to_thread(plug, PlugSpec(port_id=port_id, netns=netns, mac=mac, mtu=mtu,
                                               host_netns=h.netns, ovsdb=h.ovsdb))
        self.plugged.append((h, port_id, netns))
        sh("ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        sh("ip", "-n", netns, "addr", "add", cidr, "dev", "eth0")
        return netns

    async def put(self, i: int, intent: L2Port | L2Network) -> None:
        await intents_kv.put(self.kv, self.host(i).name, intent)

    async def wait_status(self, port_id: str, status: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.status.get(port_id) != status:
            if time.monotonic() > deadline:
                raise AssertionError(f"{port_id}: status {self.status.get(port_id)!r}, wanted {status}")
            await asyncio.sleep(0.05)


async def _attempt(errors: list[BaseException], aw) -> None:
    try:
        await aw
    except Exception as exc:  # noqa: BLE001 - teardown goes on, the error is re-raised later
        errors.append(exc)


@pytest.fixture
async def l2env(cluster, nats_server, prefix):
    env = L2Env(cluster, nats_server, prefix)
    try:
        await env.start()
        yield env
    finally:
        await env.close()


@pytest.fixture
def net_pair():
    """Builder for one network with a port on host 0 and host 1 (intents + instances)."""

    async def build(env: L2Env, net: L2Network, tag: str, ips=("10.0.0.1/24", "10.0.0.2/24")):
        peers = tuple(h.tunnel_ip for h in env.cluster.hosts)
        net = L2Network(**{**{f: getattr(net, f) for f in net.__struct_fields__}, "peers": peers})
        out = []
        for i, cidr in enumerate(ips):
            pid = f"{tag}{i}".ljust(8, "0") + "-0000-4000-8000-000000000000"
            mac = f"fa:16:3e:{sum(tag.encode()) % 256:02x}:{len(tag):02x}:{i + 1:02x}"
            ns = await env.instance(i, pid, mac, cidr)
            await env.put(i, net)
            await env.put(i, L2Port(port_id=pid, network_id=net.network_id, mac_address=mac,
                                    network_type=net.network_type, segmentation_id=net.segmentation_id,
                                    physical_network=net.physical_network, revision_number=1))
            out.append((pid, mac, ns))
        for pid, _, _ in out:
            await env.wait_status(pid, "ACTIVE")
        return out

    return build


def ping(ns: str, ip: str, count: int = 3) -> bool:
    return sh("ip", "netns", "exec", ns, "ping", "-c", str(count), "-i", "0.2", "-W", "2", ip,
              check=False).returncode == 0


def tcp_ok(server_ns: str, client_ns: str, ip: str, port: int = 8080) -> bool:
    """An HTTP GET over TCP from client to a python http.server in server (by pid)."""
    srv = subprocess.Popen(["ip", "netns", "exec", server_ns, "python3", "-m", "http.server", str(port),
                            "--bind", ip], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            r = sh("ip", "netns", "exec", client_ns, "curl", "-s", "-m", "3", "-o", "/dev/null",
                   "-w", "%{http_code}", f"http://{ip}:{port}/", check=False)
            if r.stdout == "200":
                return True
            time.sleep(0.1)
        return False
    finally:
        srv.terminate()
        srv.wait(5)


def require(tool: str) -> None:
    if not shutil.which(tool):
        pytest.skip(f"{tool} not installed")


@pytest.fixture
def dp():
    """Packet helpers for tests (conftest modules are not importable by name)."""
    import types

    return types.SimpleNamespace(ping=ping, tcp_ok=tcp_ok, sh=sh, tap_name=tap_name, require=require)
