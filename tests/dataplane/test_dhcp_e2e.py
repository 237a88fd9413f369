"""End to end through the real API: topology + API + one L2 agent per simulated host +
a DHCP agent process (the CLI) on host 1. A port created through the API gets its
address by DHCP in an instance plugged with ``netledger port plug``, becomes ACTIVE
only then (vif notification), and its metadata comes through the configured backend URL.

Safety: namespaces are the cluster's ``nlt<hex>-*``; the metadata backend listens on
127.0.0.1 only; every process is stopped by pid.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from netledger.deploy.hosts import ns_delete
from tests.support import destroy_stack, free_port, start_stack

pytestmark = pytest.mark.dataplane
CLI = [sys.executable, "-m", "netledger.cli"]


class Backend(BaseHTTPRequestHandler):
    """Stands in for Nova's metadata API: echoes what the proxy told it."""

    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps({"path": self.path, "instance": self.headers.get("X-Instance-ID"),
                           "port": self.headers.get("X-Neutron-Port-ID"),
                           "network": self.headers.get("X-Neutron-Network-ID"),
                           "forwarded_for": self.headers.get("X-Forwarded-For")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def backend():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert not check or proc.returncode == 0, f"{cmd}: {proc.stderr}"
    return proc


async def until(fn, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(fn)
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.3)


async def test_port_via_api_gets_dhcp_then_active_and_metadata(cluster, nats_server, backend, tmp_path):
    stack = start_stack(nats_server, extra_env={"NETLEDGER_TENANT_NETWORK_TYPES": "vxlan"})
    state = tempfile.mkdtemp(prefix=f"{cluster.prefix}-dhcp-")
    os.chmod(state, 0o755)
    procs, instances = [], []
    api, h1 = stack.api, cluster.hosts[0]
    try:
        for h in cluster.hosts:
            procs.append(_spawn(stack, tmp_path, f"l2-{h.name}", [
                "l2-agent", "--host", h.name, "--ovsdb", h.ovsdb, "--tunnel-ip", h.tunnel_ip,
                "--bridge-mappings", "physnet1:br-ex", "--resync-interval", "2"]))
        procs.append(_spawn(stack, tmp_path, "dhcp", [
            "dhcp-agent", "--host", h1.name, "--ovsdb", h1.ovsdb, "--host-netns", h1.netns, "--state-dir", state,
            "--netns-prefix", f"{h1.netns}-", "--metadata-backend", backend, "--heartbeat-interval", "2"]))
        await until(lambda: {a["agent_type"] for a in api.get("/v2.0/agents")[1]["agents"] if a["alive"]}
                    >= {"DHCP agent", "Open vSwitch agent"}, 30, "agents alive")
        net = api.create("network", name="e2e")
        sub = api.create("subnet", network_id=net["id"], cidr="10.66.0.0/24", ip_version=4,
                         dns_nameservers=["10.66.0.53"])
        await until(lambda: api.get(f"/v2.0/ports?network_id={net['id']}&device_owner=network:dhcp")[1]["ports"],
                    30, "DHCP port")
        port = api.create("port", network_id=net["id"], device_id="vm-e2e",
                          **{"binding:host_id": cluster.hosts[1].name})
        ip = port["fixed_ips"][0]["ip_address"]
        ns = f"{cluster.prefix}-e2e"
        h2 = cluster.hosts[1]
        plug = [*CLI, "port", "plug", port["id"], "--netns", ns, "--host-netns", h2.netns, "--ovsdb", h2.ovsdb,
                "--mac", port["mac_address"], "--network-mtu", str(net["mtu"])]
        sh(*plug)
        instances.append((h2, port["id"], ns))
        await until(lambda: api.get(f"/v2.0/ports/{port['id']}")[1]["port"]["status"] == "ACTIVE", 40,
                    "port ACTIVE (l2 and dhcp blocks)")
        script = tmp_path / "apply.sh"
        script.write_text('#!/bin/sh\n[ "$1" = bound ] || exit 0\necho "ip=$ip"\n'
                          'ip addr add "$ip/$mask" dev "$interface"\nset -- $staticroutes\n'
                          'while [ $# -ge 2 ]; do ip route replace "$1" via "$2"; shift 2; done\n')
        script.chmod(0o755)
        out = sh("ip", "netns", "exec", ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "5", "-T", "1",
                 "-O", "staticroutes", "-s", str(script)).stdout
        assert f"ip={ip}" in out
        meta = json.loads(await until(lambda: _curl(ns, "http://169.254.169.254/openstack/latest/meta_data.json"),
                                      20, "metadata through the backend"))
        assert meta == {"path": "/openstack/latest/meta_data.json", "instance": "vm-e2e", "port": port["id"],
                        "network": net["id"], "forwarded_for": ip}
        assert api.delete(f"/v2.0/ports/{port['id']}")[0] == 204
        assert api.delete(f"/v2.0/subnets/{sub['id']}")[0] == 204, "the DHCP port does not block the delete"
        assert api.delete(f"/v2.0/networks/{net['id']}")[0] == 204
        await until(lambda: not [n for n in os.listdir("/run/netns") if n.startswith(f"{h1.netns}-qdhcp-")], 30,
                    "qdhcp namespace gone")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(15) for p in procs]
        for h, pid, ns in instances:
            subprocess.run([*CLI, "port", "unplug", pid, "--netns", ns, "--host-netns", h.netns, "--ovsdb", h.ovsdb],
                           capture_output=True)
            ns_delete(ns)
        destroy_stack(stack)
        shutil.rmtree(state, ignore_errors=True)
    assert codes == [0] * len(procs), [(tmp_path / f).read_text()[-1500:] for f in os.listdir(tmp_path)
                                       if f.endswith(".log")]


def _spawn(stack, tmp_path, name: str, args: list[str]) -> subprocess.Popen:
    log = open(tmp_path / f"{name}.log", "w")
    return subprocess.Popen([*CLI, *args, "--nats", stack.nats_url, "--prefix", stack.prefix],
                            stdout=log, stderr=log, env=stack.env)


def _curl(ns: str, url: str) -> str | None:
    proc = subprocess.run(["ip", "netns", "exec", ns, "curl", "-sf", "-m", "3", url], capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else None
