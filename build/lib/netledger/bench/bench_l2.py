"""L2 worker benchmark: wiring rate, intent->ACTIVE latency, restart cost (prints, no asserts).

Scenarios (simulated hosts in namespaces, private OVS each, a real nats-server):
  1. 200 ports on one host           (20 vxlan networks)
  2. 200 ports across 4 hosts        (20 vxlan networks spanning all hosts: tunnels)
  3. restart of a host's worker with 1,000 wired ports and nothing changed:
     time to the first full reconcile, and dataplane writes (must be 0)
Instances are veth pairs with both ends in the host namespace (no packets are sent;
what the worker sees is the same as after a Nova/os-vif plug); scenario 3 uses OVS
dummy ports (see fast_plug). Agents are real `l2-agent` processes (JSON logs kept in
the work dir while running); scenario 2 shares the 2 vCPUs between 4 agents.

With ``--backend linuxbridge`` the hosts run no OVS (``Cluster(ovs=False)``), instances
are plain veths that the agents enslave, and scenario 3 uses real veths too.

Run: sudo .venv/bin/python -m bench.bench_l2 [--ports 200] [--restart-ports 1000] [--backend linuxbridge]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from netledger.deploy import nats as nats_deploy
from netledger.deploy.hosts import Cluster, SimHost
from netledger.libs.bus import connect, ensure_streams
from netledger.libs.events import codec
from netledger.libs.events.intents import L2Network, L2Port
from netledger.libs.events.subjects import Subjects
from netledger.services.l2 import intents_kv
from netledger.services.l2.agent import l2_bucket
from netledger.services.l2.driver_plug import tap_name


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0.0


def port_id(i: int) -> str:
    return f"{i:08x}-0000-4000-8000-000000000000"


def is_lb(backend: str) -> bool:
    return backend in ("linuxbridge", "lb")


def fast_plug(host: SimHost, ids: list[int], dummy: bool, backend: str = "ovs") -> None:
    """Instance ports on br-int with iface-id, 100 per OVSDB transaction.

    veth: a real veth pair in the host netns (what `port plug` makes, minus the instance
    netns). dummy: an OVS ``type=dummy`` port (vswitchd --enable-dummy): OVS gives it an
    ofport like any port but there is no kernel device; used for 1,000 ports because
    the userspace datapath needs minutes to open 1,000 AF_PACKET veths on this VM.
    """
    if not dummy:
        batch = "".join(f"link add {tap_name(port_id(i))} type veth peer name v{i:x}\n"
                        f"link set dev {tap_name(port_id(i))} up\nlink set dev v{i:x} up\n" for i in ids)
        subprocess.run(["ip", "-n", host.netns, "-batch", "-"], input=batch, text=True, check=True)
    if is_lb(backend):
        return                       # Linux bridge: the agent enslaves the taps itself
    for chunk in range(0, len(ids), 100):
        args: list[str] = []
        for i in ids[chunk:chunk + 100]:
            tap = tap_name(port_id(i))
            args += ["--", "--may-exist", "add-port", "br-int", tap, "--", "set", "Interface", tap,
                     f"external_ids:iface-id={port_id(i)}", "external_ids:iface-status=active"]
            if dummy:
                args.append("type=dummy")
        host.ovs.vsctl(*args, timeout=240)


class Bench:
    """Agents run as real `l2-agent` processes (as in production); this process only
    writes intents and listens to status reports, so they do not share an event loop."""

    def __init__(self, url: str, prefix: str, hosts: list[SimHost], workdir: str, backend: str = "ovs") -> None:
        self.url, self.prefix, self.hosts, self.workdir = url, prefix, hosts, workdir
        self.backend = backend
        self.active_at: dict[str, float] = {}
        self.agents: dict[str, tuple[subprocess.Popen, str]] = {}

    async def start(self) -> None:
        self.bus = await connect(self.url, name="bench-l2", subjects=Subjects(self.prefix))
        await ensure_streams(self.bus)
        self.kv = await self.bus.js.key_value(l2_bucket(self.prefix))
        await self.bus.nc.subscribe(f"{self.prefix}.status.port.>", cb=self._on_status)

    async def _on_status(self, msg) -> None:
        ev = codec.decode(msg.data).event
        if ev.status == "ACTIVE":
            self.active_at.setdefault(ev.port_id, time.perf_counter())

    async def start_agent(self, h: SimHost, restart: bool = False) -> tuple[dict, float]:
        """Start an agent; wait for its 'initial sync done' log line (returns it, and the time)."""
        log = os.path.join(self.workdir, f"{h.name}-{len(self.agents)}-{time.monotonic_ns()}.log")
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "netledger.services.l2.cli", "l2-agent", "--host", h.name,
             "--nats", self.url, "--prefix", self.prefix, "--ovsdb", h.ovsdb, "--tunnel-ip", h.tunnel_ip,
             "--resync-interval", "30", "--backend", self.backend,
             *(("--netns", h.netns) if is_lb(self.backend) else ())], stdout=subprocess.DEVNULL, stderr=open(log, "w"))
        self.agents[h.name] = (proc, log)
        spy = os.environ.get("NL_BENCH_PYSPY") if restart else None   # profile the restarted agent
        profiler = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "-o", spy,
                                     "-f", "raw", "--pid", str(proc.pid)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) if spy else None
        try:
            return await self._synced(proc, log, h, t0)
        finally:
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                await asyncio.to_thread(profiler.wait, 60)

    async def _synced(self, proc, log: str, h: SimHost, t0: float) -> tuple[dict, float]:
        while True:
            await asyncio.sleep(0.05)
            for line in open(log):
                if '"initial sync done"' in line:
                    return json.loads(line), time.perf_counter() - t0
            if proc.poll() is not None or time.perf_counter() - t0 > 300:
                raise RuntimeError(f"agent {h.name} failed: {open(log).read()[-1500:]}")

    async def stop_agent(self, h: SimHost) -> dict:
        proc, log = self.agents.pop(h.name)
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 30)
        stopped = [json.loads(x) for x in open(log) if '"l2 worker stopped"' in x]
        return stopped[-1] if stopped else {}

    async def idle(self, placement: dict[int, SimHost]) -> None:
        """Until every plugged port sits on the dead VLAN: the agents have seen every plug."""
        if is_lb(self.backend):          # an unknown tap is left alone: nothing to wait for
            await asyncio.sleep(2.0)
            return
        for h in self.hosts:
            want = sum(1 for x in placement.values() if x is h)
            while True:
                out = await asyncio.to_thread(h.ovs.vsctl, "--bare", "--columns=name", "find", "Port", "tag=4095")
                if len(out.split()) >= want:
                    break
                await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)

    async def wire(self, placement: dict[int, SimHost], nets: int) -> dict:
        """Write intents for every placed port; wait for every ACTIVE report."""
        put_at: dict[str, float] = {}
        hosts_of_net: dict[int, set[str]] = {}
        for i, h in placement.items():
            hosts_of_net.setdefault(i % nets, set()).add(h.tunnel_ip)
        sem = asyncio.Semaphore(64)

        async def put(i: int, h: SimHost) -> None:
            n = i % nets
            net = L2Network(network_id=f"bench-net-{n}", network_type="vxlan", segmentation_id=5000 + n,
                            peers=tuple(sorted(hosts_of_net[n])))
            port = L2Port(port_id=port_id(i), network_id=net.network_id, mac_address="fa:16:3e:00:00:01",
                          network_type="vxlan", segmentation_id=net.segmentation_id, revision_number=1)
            async with sem:
                await intents_kv.put(self.kv, h.name, net)
                put_at[port.port_id] = time.perf_counter()
                await intents_kv.put(self.kv, h.name, port)
        t0 = time.perf_counter()
        await asyncio.gather(*(put(i, h) for i, h in placement.items()))
        while not all(p in self.active_at for p in put_at):
            await asyncio.sleep(0.02)
            if time.perf_counter() - t0 > 600:
                raise TimeoutError("ports did not become ACTIVE")
        lat = [self.active_at[p] - put_at[p] for p in put_at]
        span = max(self.active_at[p] for p in put_at) - t0
        return {"ports": len(put_at), "seconds": span, "ports_per_s": len(put_at) / span,
                "p50_ms": pct(lat, 50) * 1000, "p99_ms": pct(lat, 99) * 1000}

    async def close(self) -> None:
        for h in list(self.agents):
            await self.stop_agent(next(x for x in self.hosts if x.name == h))
        await self.bus.nc.drain()


def show(title: str, r: dict) -> None:
    print(f"{title}: {r['ports']} ports ACTIVE in {r['seconds']:.2f}s = {r['ports_per_s']:.0f} ports/s; "
          f"intent->ACTIVE p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms", flush=True)


async def scenario(url: str, hosts: list[SimHost], n_ports: int, nets: int, title: str, tag: str,
                   workdir: str, dummy: bool = False, backend: str = "ovs") -> Bench:
    """Plug first (the worker parks unknown ports on the dead VLAN), then time the intents."""
    b = Bench(url, f"bl2{tag}{os.getpid()}", hosts, workdir, backend)
    await b.start()
    for h in hosts:
        await b.start_agent(h)
    placement = {i: hosts[i % len(hosts)] for i in range(n_ports)}
    for h in hosts:
        await asyncio.to_thread(fast_plug, h, [i for i, x in placement.items() if x is h], dummy, backend)
    await b.idle(placement)
    show(title, await b.wire(placement, nets))
    return b


async def restart(b: Bench, h: SimHost, n_ports: int) -> None:
    await b.stop_agent(h)
    synced, took = await b.start_agent(h, restart=True)
    await asyncio.sleep(1.0)
    print(f"restart with {n_ports} ports, nothing changed: process start -> first full reconcile "
          f"{took:.2f}s (python start, NATS, KV replay, OVSDB load, 1 observe + plan); "
          f"dataplane writes at sync = {synced['writes']}", flush=True)
    stopped = await b.stop_agent(h)
    print(f"  ... and at shutdown, after re-reporting {n_ports} statuses: writes = {stopped.get('writes')}",
          flush=True)


async def main(args) -> None:
    work = tempfile.mkdtemp(prefix="nl-bench-l2-")
    port = 15000 + os.getpid() % 5000
    nats = nats_deploy.start(workdir=work, port=port)
    url = f"nats://127.0.0.1:{port}"
    try:
        lb, be = is_lb(args.backend), args.backend
        print(f"backend {be}", flush=True)
        with Cluster(count=1, physnet=False, ovs=not lb) as c:
            b = await scenario(url, c.hosts, args.ports, 20, "1 host, veth ports", "a", work, backend=be)
            await b.close()
        with Cluster(count=4, physnet=False, ovs=not lb) as c:
            b = await scenario(url, c.hosts, args.ports, 20, "4 hosts, veth ports", "b", work, backend=be)
            await b.close()
        with Cluster(count=1, physnet=False, ovs=not lb, vswitchd_args=() if lb else ("--enable-dummy",)) as c:
            b = await scenario(url, c.hosts, args.restart_ports, 50,
                               f"1 host, {'veth' if lb else 'dummy'} ports (restart setup)",
                               "c", work, dummy=not lb, backend=be)
            await restart(b, c.hosts[0], args.restart_ports)
            await b.close()
    finally:
        nats.terminate()
        nats.wait(10)
        if not os.environ.get("NL_BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("agent logs kept in", work)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", type=int, default=200)
    ap.add_argument("--restart-ports", type=int, default=1000)
    ap.add_argument("--backend", default="ovs", help="ovs|linuxbridge")
    asyncio.run(main(ap.parse_args()))
