"""gRPC Watch fan-out: 50 concurrent ``Events.Watch`` streams while 1,000 ports are created.

One stack (nats-server with fsync before ack, topology, one API process serving gRPC).
50 streams (``kinds=["port"]``, the bench's project, from seq 0) over 5 channels are
open and caught up before the writes start; 16 REST clients then create 1,000 ports.
Per port and stream, the latency runs from the start of its ``POST /v2.0/ports`` to
its ``PortCreated`` arriving on that stream (also given: from the 201, and the POST itself). Prints: whether every stream saw all
ports, p50/p99/max latency, and write throughput. Asserts nothing.

Run: .venv/bin/python -m netledger.bench.bench_watch [--ports 1000] [--streams 50]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import aiohttp
import grpc

from netledger.bench.harness import free_port, stack
from netledger.services.grpc_api.gen import netledger_v1_pb2 as pb
from netledger.services.grpc_api.gen import netledger_v1_pb2_grpc as pb_grpc

CLIENTS = 16
CHANNELS = 5


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else 0.0


async def watch(stub, project: str, seen: dict) -> None:
    call = stub.Watch(pb.WatchRequest(kinds=["port"], project=project),
                      metadata=(("x-project-id", project),))
    async for change in call:
        if change.type == "PortCreated":
            seen[change.id] = time.perf_counter()


async def create_ports(api: str, project: str, net: str, n: int) -> dict:
    times: dict[str, float] = {}
    todo = iter(range(n))
    headers = {"X-Project-Id": project, "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async def client() -> None:
            for i in todo:
                t0 = time.perf_counter()
                async with http.post(f"{api}/v2.0/ports", json={"port": {"network_id": net, "name": f"w{i}"}}) as r:
                    body = await r.json()
                    if r.status == 201:
                        times[body["port"]["id"]] = (t0, time.perf_counter())
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return times


async def run(api: str, target: str, ports: int, streams: int) -> dict:
    project = "bench-" + uuid.uuid4().hex[:6]
    async with aiohttp.ClientSession(headers={"X-Project-Id": project}) as http:
        async with http.post(f"{api}/v2.0/networks", json={"network": {"name": "w"}}) as r:
            net = (await r.json())["network"]["id"]
        async with http.post(f"{api}/v2.0/subnets", json={"subnet": {
                "network_id": net, "cidr": "10.96.0.0/20", "ip_version": 4, "enable_dhcp": False}}) as r:
            assert r.status == 201, await r.text()
    channels = [grpc.aio.insecure_channel(target) for _ in range(CHANNELS)]
    for ch in channels:
        await ch.channel_ready()
    seen = [dict() for _ in range(streams)]
    tasks = [asyncio.create_task(watch(pb_grpc.EventsStub(channels[i % CHANNELS]), project, seen[i]))
             for i in range(streams)]
    await asyncio.sleep(2.0)   # every stream subscribed and caught up (the history is one network)
    t0, cpu0 = time.perf_counter(), time.process_time()
    written = await create_ports(api, project, net, ports)
    wall = time.perf_counter() - t0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(len(s) < len(written) for s in seen):
        await asyncio.sleep(0.2)
    client_cpu = time.process_time() - cpu0
    for t in tasks:
        t.cancel()
    for ch in channels:
        await ch.close()
    lat = [(s[pid] - t[0]) * 1000 for s in seen for pid, t in written.items() if pid in s]
    after = [(s[pid] - t[1]) * 1000 for s in seen for pid, t in written.items() if pid in s]
    post = [(t[1] - t[0]) * 1000 for t in written.values()]
    return {"ports": len(written), "streams": streams, "complete": sum(len(s) >= len(written) for s in seen),
            "missing": sum(len(set(written) - set(s)) for s in seen), "writes_s": round(len(written) / wall, 1),
            "p50_ms": round(pct(lat, 50), 1), "p99_ms": round(pct(lat, 99), 1), "max_ms": round(max(lat or [0]), 1),
            "after_201_p50_ms": round(pct(after, 50), 1), "after_201_p99_ms": round(pct(after, 99), 1),
            "client_cpu_s": round(client_cpu, 1), "post_p50_ms": round(pct(post, 50), 1), "post_p99_ms": round(pct(post, 99), 1)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", type=int, default=1000)
    ap.add_argument("--streams", type=int, default=50)
    args = ap.parse_args(argv)
    gport = free_port()
    with stack(extra_env={"NETLEDGER_GRPC_PORT": str(gport)}) as (apis, _nats, _work):
        fig = asyncio.run(run(apis[0], f"127.0.0.1:{gport}", args.ports, args.streams))
    print(f"{fig['streams']} Watch streams x {fig['ports']} ports: {fig['complete']}/{fig['streams']} streams saw "
          f"every port (missing {fig['missing']}); write->seen p50 {fig['p50_ms']} ms  p99 {fig['p99_ms']} ms  "
          f"max {fig['max_ms']} ms; 201 -> seen p50 {fig['after_201_p50_ms']} ms  p99 {fig['after_201_p99_ms']} ms; "
          f"POST itself p50 {fig['post_p50_ms']} ms  p99 {fig['post_p99_ms']} ms; writes {fig['writes_s']} ports/s "
          f"(16 clients); this client process used {fig['client_cpu_s']} CPU s (50 streams + 16 writers)")
    return fig


if __name__ == "__main__":
    main()
