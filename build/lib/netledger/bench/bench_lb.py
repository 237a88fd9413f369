"""LB benchmark (prints, no asserts): requests/s through the load balancer vs the same
backends directly (a ratio, both measured in this run, interleaved), and member add ->
serving latency.

Real stack (nats-server, API, topology), two simulated hosts with L2/L3/LB workers in
this process (services/advanced/lb/lab.py), three name-echoing Python HTTP backends,
a client namespace running a threaded Python load generator (new connection per
request, as the HTTP/1.0 backends close). On a shared 2-core VM the client, HAProxy
and the backends compete for the same CPUs: read the ratio, not the absolute rates.
Run: sudo .venv/bin/python -m bench.bench_lb [--seconds 5] [--concurrency 8] [--adds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid

import structlog

from netledger.deploy import nats as nats_deploy
from netledger.deploy.hosts import Cluster
from netledger.services.advanced.lb.lab import LbLab
from netledger.services.l3.lab import curl, sh

LOADGEN = r"""
import http.client, json, sys, threading, time
urls, seconds, conc = json.loads(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
ok, err, lock = [0], [0], threading.Lock()
def run(i):
    n = e = 0
    end = time.monotonic() + seconds
    k = i
    while time.monotonic() < end:
        host, port = urls[k % len(urls)]; k += 1
        try:
            c = http.client.HTTPConnection(host, port, timeout=5)
            c.request("GET", "/"); r = c.getresponse(); r.read(); c.close()
            n += r.status == 200; e += r.status != 200
        except Exception:
            e += 1
    with lock:
        ok[0] += n; err[0] += e
ts = [threading.Thread(target=run, args=(i,)) for i in range(conc)]
start = time.monotonic()
[t.start() for t in ts]; [t.join() for t in ts]
print(json.dumps({"ok": ok[0], "errors": err[0], "seconds": time.monotonic() - start}))
"""


def load(ns: str, targets: list[tuple[str, int]], seconds: float, concurrency: int) -> dict:
    r = sh("ip", "netns", "exec", ns, sys.executable, "-c", LOADGEN, json.dumps(targets), str(seconds),
           str(concurrency), timeout=seconds + 60)
    out = json.loads(r.stdout)
    out["rps"] = out["ok"] / out["seconds"]
    return out


async def until(check, timeout: float = 60.0, step: float = 0.02) -> float:
    start = time.monotonic()
    while not await asyncio.to_thread(check):
        if time.monotonic() - start > timeout:
            return float("nan")
        await asyncio.sleep(step)
    return time.monotonic() - start


async def setup(lab: LbLab) -> dict:
    net = await lab.create("network", name="bench-lb")
    sub = await lab.create("subnet", network_id=net["id"], cidr="10.63.0.0/24", ip_version=4, enable_dhcp=False)
    backends = []
    for i in range(3):
        port, ns = await lab.instance(i % 2, net, sub)
        ip = port["fixed_ips"][0]["ip_address"]
        lab.backend(ns, ip, f"be{i + 1}")
        backends.append((ns, ip, f"be{i + 1}"))
    _, client = await lab.instance(0, net, sub)
    lb = await lab.make("loadbalancer", "loadbalancers", name="bench", vip_subnet_id=sub["id"])
    li = await lab.make("listener", "listeners", loadbalancer_id=lb["id"], protocol="HTTP", protocol_port=80)
    pool = await lab.make("pool", "pools", listener_id=li["id"], protocol="HTTP", lb_algorithm="ROUND_ROBIN")
    await lab.lbaas("PUT", f"pools/{pool['id']}/members",
                    {"members": [{"address": ip, "protocol_port": 8080, "name": n} for _, ip, n in backends]})
    await lab.wait_active(lb["id"])
    # a second listener whose pool starts with one member: for member-add latency
    li2 = await lab.make("listener", "listeners", loadbalancer_id=lb["id"], protocol="HTTP", protocol_port=81)
    pool2 = await lab.make("pool", "pools", listener_id=li2["id"], protocol="HTTP", lb_algorithm="ROUND_ROBIN")
    await lab.make("member", f"pools/{pool2['id']}/members", address=backends[0][1], protocol_port=8080, name="be1")
    vip = lb["vip_address"]
    for port in (80, 81):
        await until(lambda port=port: curl(client, f"http://{vip}:{port}/") is not None, 60)
    return {"lb": lb, "pool2": pool2, "backends": backends, "client": client, "vip": vip}


async def throughput(env: dict, seconds: float, concurrency: int, rounds: int = 2) -> dict:
    direct_t = [(ip, 8080) for _, ip, _ in env["backends"]]
    lb_t = [(env["vip"], 80)]
    runs: dict[str, list[dict]] = {"direct": [], "lb": []}
    await asyncio.to_thread(load, env["client"], lb_t, 1, concurrency)        # warm-up (ARP, first connections)
    for _ in range(rounds):                                                 # interleaved: drifting load hits both
        runs["direct"].append(await asyncio.to_thread(load, env["client"], direct_t, seconds, concurrency))
        runs["lb"].append(await asyncio.to_thread(load, env["client"], lb_t, seconds, concurrency))
    return runs


async def member_add(lab: LbLab, env: dict, adds: int) -> list[dict]:
    """POST a member -> (API answer, LB ACTIVE again, first response from the new member)."""
    pool, (_, ip, name), client = env["pool2"], env["backends"][1], env["client"]
    url = f"http://{env['vip']}:81/"
    out = []
    for _ in range(adds):
        start = time.monotonic()
        m = (await lab.lbaas("POST", f"pools/{pool['id']}/members",
                             {"member": {"address": ip, "protocol_port": 8080, "name": name}}))["member"]
        api_s = time.monotonic() - start
        serving = await until(lambda: curl(client, url, 1) == name, 60, 0.0)
        serving_s = time.monotonic() - start if serving == serving else float("nan")
        await lab.wait_active(env["lb"]["id"])
        active_s = time.monotonic() - start
        out.append({"api_s": api_s, "serving_s": serving_s, "active_s": active_s})
        await lab.lbaas("DELETE", f"pools/{pool['id']}/members/{m['id']}")
        await lab.wait_active(env["lb"]["id"])
        await until(lambda: {curl(client, url, 1) for _ in range(2)} == {"be1"}, 60)
    return out


async def run(seconds: float, concurrency: int, adds: int) -> dict:
    work = tempfile.mkdtemp(prefix="nl-bench-lb-")
    port = 20000 + os.getpid() % 20000
    nats = nats_deploy.start(workdir=os.path.join(work, "nats"), port=port)
    figures: dict = {"seconds": seconds, "concurrency": concurrency}
    try:
        with Cluster(count=2, physnet=True) as cluster:
            lab = LbLab(cluster, f"nats://127.0.0.1:{port}", prefix="b" + uuid.uuid4().hex[:8])
            try:
                await lab.start()
                env = await setup(lab)
                figures["throughput"] = await throughput(env, seconds, concurrency)
                figures["member_add"] = await member_add(lab, env, adds)
            finally:
                await lab.close()
    finally:
        nats.terminate()
        nats.wait(10)
    return figures


def report(f: dict) -> None:
    t = f["throughput"]
    direct = statistics.mean(r["rps"] for r in t["direct"])
    lb = statistics.mean(r["rps"] for r in t["lb"])
    errors = {k: sum(r["errors"] for r in v) for k, v in t.items()}
    adds = f["member_add"]
    serving = [a["serving_s"] for a in adds]
    each = {k: ", ".join(f"{r['rps']:.0f}" for r in v) for k, v in t.items()}
    lines = [
        f"HTTP GET, new connection per request, {f['concurrency']} client threads, {f['seconds']:.0f} s x "
        f"{len(t['lb'])} interleaved rounds",
        f"  direct to 3 backends: {direct:8.0f} req/s  ({each['direct']}; "
        f"errors {errors['direct']})",
        f"  through the LB VIP:   {lb:8.0f} req/s  ({each['lb']}; "
        f"errors {errors['lb']})",
        f"  ratio LB / direct:    {lb / direct:8.2f}" if direct else "  ratio: n/a (no direct requests)",
        f"member add -> serving ({len(adds)}): median {statistics.median(serving) * 1000:.0f} ms, "
        f"max {max(serving) * 1000:.0f} ms  (each: {', '.join(f'{s * 1000:.0f}' for s in serving)} ms)",
        f"  API answer median {statistics.median(a['api_s'] for a in adds) * 1000:.0f} ms; "
        f"LB ACTIVE again median {statistics.median(a['active_s'] for a in adds) * 1000:.0f} ms",
    ]
    for line in lines:
        os.write(1, (line + "\n").encode())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench_lb")
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_LB_SECONDS", "5")))
    ap.add_argument("--concurrency", type=int, default=int(os.environ.get("BENCH_LB_CONCURRENCY", "8")))
    ap.add_argument("--adds", type=int, default=int(os.environ.get("BENCH_LB_ADDS", "5")))
    args = ap.parse_args(argv or [])
    # Workers log every plan at info: keep the figures readable.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    report(asyncio.run(run(args.seconds, args.concurrency, args.adds)))


if __name__ == "__main__":
    main(sys.argv[1:])
