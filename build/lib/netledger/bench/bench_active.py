"""API call -> port ACTIVE (really wired), the way a compute orchestrator sees it.

Whole stack as separate processes: nats-server (fsync before ack), topology, one API,
and a real `l2-agent` on a simulated host with a private OVS (userspace datapath,
``--enable-dummy`` so 1,000 instance ports need no kernel devices). Like Nova:

  1. create the ports (no binding yet) through the API;
  2. plug each instance interface on br-int with ``iface-id=<port id>`` (os-vif's
     job; off the clock), and wait until the agent has parked them all on the dead
     VLAN (it has seen every plug);
  3. the timed part: ``PUT binding:host_id`` for every port, either all at once by 16
     concurrent clients or paced at a steady rate (``--rate``, default both 0 and 50/s); a
     port's latency runs from the start of its PUT to the "vif plugged" notification
     with status ACTIVE on ``<prefix>.notify.vif.<port>`` (the subject an orchestrator
     waits on), which the topology service publishes after folding the worker's report.

Prints figures, asserts nothing. Run: sudo .venv/bin/python -m bench.bench_active [--ports 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import aiohttp
import nats

from netledger.bench.harness import stack
from netledger.deploy.hosts import Cluster, SimHost
from netledger.services.l2.driver_plug import tap_name

PREFIX = "nl"          # the stack's default subject prefix
CLIENTS = 16


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0.0


def plug(host: SimHost, port_ids: list[str]) -> None:
    """OVS dummy ports with the Neutron port id as iface-id, 100 per OVSDB transaction."""
    for chunk in range(0, len(port_ids), 100):
        args: list[str] = []
        for pid in port_ids[chunk:chunk + 100]:
            tap = tap_name(pid)
            args += ["--", "--may-exist", "add-port", "br-int", tap, "--", "set", "Interface", tap,
                     f"external_ids:iface-id={pid}", "external_ids:iface-status=active", "type=dummy"]
        host.ovs.vsctl(*args, timeout=240)


def start_agent(nats_url: str, host: SimHost, work: str) -> subprocess.Popen:
    log = open(os.path.join(work, f"agent-{host.name}.log"), "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "netledger.cli", "--nats", nats_url, "--prefix", PREFIX, "l2-agent", "--host",
         host.name, "--backend", "ovs", "--ovsdb", host.ovsdb, "--tunnel-ip", host.tunnel_ip,
         "--resync-interval", "30"],
        env={**os.environ, "NETLEDGER_LOG_LEVEL": "info"}, stdout=log, stderr=log, start_new_session=True)


async def call(session: aiohttp.ClientSession, method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    async with session.request(method, url, json=body) as resp:
        return resp.status, (await resp.json() if resp.status != 204 else {})


async def until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.1)


async def run(api: str, nats_url: str, host: SimHost, n_ports: int, rate: float) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CLIENTS)) as s:
        async def agent_alive() -> bool:
            _, body = await call(s, "GET", f"{api}/v2.0/agents?host={host.name}")
            return any(a.get("alive") for a in body.get("agents", []))
        await until(agent_alive, 60, "the L2 agent never reported alive")
        _, net = await call(s, "POST", f"{api}/v2.0/networks", {"network": {"name": "bench-active"}})
        net_id = net["network"]["id"]
        await call(s, "POST", f"{api}/v2.0/subnets",
                   {"subnet": {"network_id": net_id, "cidr": "10.77.0.0/20", "ip_version": 4}})

        # 1. ports, unbound
        ids: list[str] = []
        queue = list(range(n_ports))
        t0 = time.perf_counter()

        async def creator() -> None:
            while queue:
                queue.pop()
                status, body = await call(s, "POST", f"{api}/v2.0/ports",
                                          {"port": {"network_id": net_id, "device_owner": "compute:nova"}})
                assert status == 201, body
                ids.append(body["port"]["id"])
        await asyncio.gather(*(creator() for _ in range(CLIENTS)))
        print(f"created {n_ports} ports in {time.perf_counter() - t0:.2f}s "
              f"({n_ports / (time.perf_counter() - t0):.0f}/s, {CLIENTS} clients)", flush=True)

        # 2. plugged by the "compute host" (off the clock)
        await asyncio.to_thread(plug, host, ids)

        async def all_parked() -> bool:
            out = await asyncio.to_thread(host.ovs.vsctl, "--bare", "--columns=name", "find", "Port", "tag=4095")
            return len(out.split()) >= n_ports
        await until(all_parked, 300, "the agent did not see every plug")
        await asyncio.sleep(1.0)

        # 3. timed: bind, wait for "vif plugged"
        active_at: dict[str, float] = {}
        nc = await nats.connect(nats_url)

        async def on_vif(msg) -> None:
            note = json.loads(msg.data)
            if note.get("status") == "ACTIVE":
                active_at.setdefault(note["port_id"], time.perf_counter())
        await nc.subscribe(f"{PREFIX}.notify.vif.>", cb=on_vif)
        started: dict[str, float] = {}
        put_ms: list[float] = []
        pending = list(ids)

        t0 = time.perf_counter()

        async def binder() -> None:
            while pending:
                pid = pending.pop()
                if rate:   # paced: port i is bound at t0 + i / rate (a steady stream of boots)
                    await asyncio.sleep(max(0.0, t0 + (len(ids) - len(pending) - 1) / rate - time.perf_counter()))
                started[pid] = time.perf_counter()
                status, body = await call(s, "PUT", f"{api}/v2.0/ports/{pid}",
                                          {"port": {"binding:host_id": host.name, "device_id": f"vm-{pid[:8]}"}})
                assert status == 200, body
                put_ms.append((time.perf_counter() - started[pid]) * 1000)
        await asyncio.gather(*(binder() for _ in range(CLIENTS)))

        async def all_active() -> bool:
            return all(p in active_at for p in ids)
        await until(all_active, 600, "ports did not become ACTIVE")
        span = max(active_at.values()) - t0
        lat = [(active_at[p] - started[p]) * 1000 for p in ids]
        await nc.close()
        how = f"at {rate:.0f}/s" if rate else f"by {CLIENTS} clients at once"
        print(f"{n_ports} ports bound {how}, all ACTIVE in {span:.2f}s ({n_ports / span:.0f}/s)", flush=True)
        print(f"  binding PUT           p50 {pct(put_ms, 50):6.0f} ms  p99 {pct(put_ms, 99):6.0f} ms", flush=True)
        print(f"  API call -> ACTIVE    p50 {pct(lat, 50):6.0f} ms  p99 {pct(lat, 99):6.0f} ms  "
              f"max {max(lat):6.0f} ms", flush=True)


def main(args=None) -> None:
    n_ports = getattr(args, "active_ports", None) or 1000
    for rate in getattr(args, "rates", None) or [0.0, 50.0]:
        scenario(n_ports, rate)       # each on a fresh stack and host


def scenario(n_ports: int, rate: float) -> None:
    with stack() as (apis, nats_url, work), \
            Cluster(count=1, physnet=False, vswitchd_args=("--enable-dummy",)) as cluster:
        host = cluster.hosts[0]
        agent = start_agent(nats_url, host, work)
        # NL_BENCH_PYSPY=<file>: sample the agent with py-spy during the run (.txt: raw stacks).
        spy = os.environ.get("NL_BENCH_PYSPY")
        profiler = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "-o", spy,
                                     *(("-f", "raw") if spy.endswith(".txt") else ()), "--pid", str(agent.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if spy else None
        try:
            asyncio.run(run(apis[0], nats_url, host, n_ports, rate))
        finally:
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(60)
            agent.terminate()
            try:
                agent.wait(30)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", dest="active_ports", type=int, default=1000)
    ap.add_argument("--rate", dest="rates", type=float, action="append",
                    help="bind at this many ports/s (0 = all at once by 16 clients); repeatable; default 0 and 50")
    main(ap.parse_args())
