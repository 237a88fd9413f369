"""The CLI end to end: `l2-agent` processes per host, `port plug/unplug`, heartbeats, SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import pytest

from netledger.deploy.hosts import ns_delete
from netledger.libs.bus import connect, ensure_streams
from netledger.libs.events import codec
from netledger.libs.events.intents import L2Network, L2Port
from netledger.libs.events.subjects import Subjects
from netledger.services.l2 import intents_kv
from netledger.services.l2.agent import l2_bucket

pytestmark = pytest.mark.dataplane
CLI = [sys.executable, "-m", "netledger.services.l2.cli"]


def cli(*args: str) -> str:
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


async def test_agent_processes_and_port_plug_cli(cluster, nats_server, prefix, dp, tmp_path):
    bus = await connect(nats_server, name="cli-test", subjects=Subjects(prefix))
    await ensure_streams(bus)
    kv = await bus.js.key_value(l2_bucket(prefix))
    seen: dict[str, object] = {}

    async def on_status(msg):
        ev = codec.decode(msg.data).event
        seen[getattr(ev, "port_id", None) or ev.host] = ev
    await bus.nc.subscribe(f"{prefix}.status.>", cb=on_status)
    agents, instances = [], []
    net = L2Network(network_id="cli-net", network_type="geneve", segmentation_id=77,
                    peers=tuple(h.tunnel_ip for h in cluster.hosts))
    try:
        for h in cluster.hosts:
            agents.append(subprocess.Popen(
                [*CLI, "l2-agent", "--host", h.name, "--backend", "ovs", "--nats", nats_server,
                 "--prefix", prefix, "--ovsdb", h.ovsdb, "--tunnel-ip", h.tunnel_ip,
                 "--bridge-mappings", "physnet1:br-ex", "--resync-interval", "1"],
                stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{h.name}.log", "w")))
        for i, h in enumerate(cluster.hosts):
            pid, mac, ns = f"c1i{i}0000-0000-4000-8000-000000000000", f"fa:16:3e:c1:00:{i + 1:02x}", f"{cluster.prefix}-cli{i}"
            await _wait(lambda: h.name in seen, 20, f"heartbeat of {h.name}")
            cli("port", "plug", pid, "--netns", ns, "--host", h.name, "--host-netns", h.netns,
                "--ovsdb", h.ovsdb, "--mac", mac, "--network-mtu", "1400")
            instances.append((h, pid, ns))
            dp.sh("ip", "-n", ns, "addr", "add", f"10.0.0.{i + 1}/24", "dev", "eth0")
            await intents_kv.put(kv, h.name, net)
            await intents_kv.put(kv, h.name, L2Port(port_id=pid, network_id=net.network_id, mac_address=mac,
                                                    network_type="geneve", segmentation_id=77))
        for _, pid, _ in instances:
            await _wait(lambda: getattr(seen.get(pid), "status", "") == "ACTIVE", 20, f"{pid} ACTIVE")
        hb = seen[cluster.hosts[0].name]
        assert (hb.agent_type, hb.binary, hb.backend) == ("Open vSwitch agent", "netledger-l2-agent", "openvswitch")
        assert "geneve" in hb.network_types and hb.bridge_mappings == {"physnet1": "br-ex"}
        assert dp.ping(instances[0][2], "10.0.0.2")
        h, pid, ns = instances[1]
        cli("port", "unplug", pid, "--netns", ns, "--host-netns", h.netns, "--ovsdb", h.ovsdb)
        assert dp.tap_name(pid) not in h.ovs.vsctl("list-ports", "br-int")
        await _wait(lambda: seen[pid].status == "DOWN", 10, "DOWN after unplug")
    finally:
        for p in agents:
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(15) for p in agents]
        for h, pid, ns in instances:
            subprocess.run([*CLI, "port", "unplug", pid, "--netns", ns, "--host-netns", h.netns,
                            "--ovsdb", h.ovsdb], capture_output=True)
            ns_delete(ns)
        await bus.nc.drain()
    assert codes == [0, 0], [(tmp_path / f"{h.name}.log").read_text()[-2000:] for h in cluster.hosts]


async def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.1)
