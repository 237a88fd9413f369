"""API throughput and latency: create network/subnet/port and list ports, 1 and 16 clients."""

from __future__ import annotations

import asyncio
import statistics
import time

import aiohttp

from .harness import stack


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def _drive(n_ops: int, clients: int, op) -> dict:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(n_ops))

    async def client(session):
        nonlocal errors
        for i in counter:
            t0 = time.perf_counter()
            ok = await op(session, i)
            latencies.append((time.perf_counter() - t0) * 1000)
            errors += 0 if ok else 1

    async with aiohttp.ClientSession() as session:
        start = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return {"ops": n_ops, "clients": clients, "ops_s": round(n_ops / elapsed, 1),
            "p50_ms": round(pct(latencies, 50), 1), "p99_ms": round(pct(latencies, 99), 1),
            "mean_ms": round(statistics.fmean(latencies), 1), "errors": errors}


async def _post(session, url, body) -> dict | None:
    async with session.post(url, json=body) as r:
        return await r.json() if r.status == 201 else None


async def run_api_bench(api: str, n: int = 1000) -> list[tuple[str, dict]]:
    results = []
    async with aiohttp.ClientSession() as s:
        big = (await _post(s, f"{api}/v2.0/networks", {"network": {"name": "bench-big"}}))["network"]["id"]
        await _post(s, f"{api}/v2.0/subnets", {"subnet": {"network_id": big, "cidr": "10.128.0.0/12",
                                                          "ip_version": 4}})
    nets: list[str] = []

    async def net_op(session, i):
        body = await _post(session, f"{api}/v2.0/networks", {"network": {"name": f"bn{i}"}})
        if body:
            nets.append(body["network"]["id"])
        return body is not None

    used_nets = iter(range(10**9))

    async def subnet_op(session, i):
        k = next(used_nets)  # every subnet on a network of its own: no overlap by design
        net = nets[k % len(nets)]
        body = {"subnet": {"network_id": net, "cidr": f"10.{k // 250 % 250}.{k % 250}.0/24", "ip_version": 4}}
        return await _post(session, f"{api}/v2.0/subnets", body) is not None

    async def port_op(session, i):
        return await _post(session, f"{api}/v2.0/ports", {"port": {"network_id": big, "name": f"bp{i}"}}) is not None

    async def list_op(session, i):
        async with session.get(f"{api}/v2.0/ports?limit=100") as r:
            await r.read()
            return r.status == 200

    for clients in (1, 16):
        for name, op, count in (("network create", net_op, n), ("subnet create", subnet_op, n // 2),
                                ("port create", port_op, n), ("port list (limit 100)", list_op, n)):
            results.append((name, await _drive(count if clients == 16 else count // 4, clients, op)))
    return results


def main(n: int = 1000) -> list[tuple[str, dict]]:
    with stack() as (apis, _nats, _work):
        return asyncio.run(run_api_bench(apis[0], n))


if __name__ == "__main__":
    for name, fig in main():
        print(f"{name:24s} {fig}")
