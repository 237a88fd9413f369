"""CNI benchmark (prints, no asserts): container ADD -> network ready, and DEL, p50/p99 over N.

Real stack (nats-server, API, topology) and one simulated host with an L2 and L3 worker
(L3Lab, in this process). Each "container" is a fresh namespace handed to the plugin as a
runtime does (one ``netledger-cni`` process per command, env + config on stdin).
Figures: ADD wall time (the plugin returns once the port is ACTIVE), ADD start -> the
container's first answered ping to a peer container (network ready), DEL wall time.
Run: sudo .venv/bin/python -m bench.bench_cni [--containers 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import structlog

from netledger.deploy import nats as nats_deploy
from netledger.deploy.hosts import Cluster, ns_add, ns_delete
from netledger.services.l3.lab import L3Lab, ping

from .bench_l3 import pct

PLUGIN = [sys.executable, "-m", "netledger.services.cni"]


def invoke(command: str, conf: dict, cid: str, netns: str) -> float:
    env = {"PATH": os.environ["PATH"], "CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_IFNAME": "eth0",
           "CNI_NETNS": netns, "CNI_PATH": "/opt/cni/bin"}
    start = time.monotonic()
    proc = subprocess.run(PLUGIN, input=json.dumps(conf).encode(), env=env, capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"{command} {cid}: {proc.stdout.decode()}")
    return time.monotonic() - start


async def run(count: int) -> dict:
    work = tempfile.mkdtemp(prefix="nl-bench-cni-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nats = nats_deploy.start(workdir=os.path.join(work, "nats"), port=port)
    figures: dict = {"add_s": [], "ready_s": [], "del_s": []}
    try:
        with Cluster(count=1, physnet=True) as cluster:
            lab = L3Lab(cluster, f"nats://127.0.0.1:{port}", prefix="b" + uuid.uuid4().hex[:8])
            try:
                await lab.start()
                figures.update(await measure(lab, cluster, count))
            finally:
                await lab.close()
    finally:
        nats.terminate()
        nats.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    return figures


async def measure(lab: L3Lab, cluster: Cluster, count: int) -> dict:
    net, _ = await lab.lan("10.90.0.0/22")
    h = cluster.hosts[0]
    conf = {"cniVersion": "1.1.0", "name": "bench", "type": "netledger-cni", "network": net["id"],
            "api": {"url": lab.api_url}, "host": h.name, "host_netns": h.netns, "ovsdb": h.ovsdb,
            "active_timeout": 60}
    names = [f"{cluster.prefix}-c{i}" for i in range(count + 1)]
    add_s, ready_s, del_s = [], [], []
    try:
        ns_add(names[0])        # the peer every container pings
        await asyncio.to_thread(invoke, "ADD", conf, "peer", f"/run/netns/{names[0]}")
        peer_ip = (await lab.api("GET", "/v2.0/ports?device_id=peer"))["ports"][0]["fixed_ips"][0]["ip_address"]
        for i, ns in enumerate(names[1:]):
            ns_add(ns)
            start = time.monotonic()
            add_s.append(await asyncio.to_thread(invoke, "ADD", conf, f"c{i}", f"/run/netns/{ns}"))
            while not await asyncio.to_thread(ping, ns, peer_ip, 1, 0.2):
                if time.monotonic() - start > 60:
                    break
            ready_s.append(time.monotonic() - start)
        for i, ns in enumerate(names[1:]):
            del_s.append(await asyncio.to_thread(invoke, "DEL", conf, f"c{i}", f"/run/netns/{ns}"))
        await asyncio.to_thread(invoke, "DEL", conf, "peer", f"/run/netns/{names[0]}")
    finally:
        for ns in names:
            ns_delete(ns)
    return {"add_s": add_s, "ready_s": ready_s, "del_s": del_s}


def report(f: dict) -> None:
    def line(label: str, xs: list[float]) -> str:
        return f"{label} ({len(xs)}): p50 {pct(xs, 50) * 1000:.0f} ms  p99 {pct(xs, 99) * 1000:.0f} ms"

    for text in (line("container ADD (returns when port ACTIVE)", f["add_s"]),
                 line("container ADD -> network ready (ping to a peer)", f["ready_s"]),
                 line("container DEL", f["del_s"])):
        os.write(1, (text + "\n").encode())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench_cni")
    ap.add_argument("--containers", type=int, default=int(os.environ.get("BENCH_CNI_CONTAINERS", "100")))
    args = ap.parse_args(argv or [])
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    report(asyncio.run(run(args.containers)))


if __name__ == "__main__":
    main(sys.argv[1:])
