"""L3 benchmark (prints, no asserts): interface-add -> forwarding latency, floating IP
associate -> reachable (p50/p99 over N), failover time.

Real stack (nats-server, API, topology) and two simulated hosts with an L2 and an
L3 worker each (in this process). Instances are namespaces; the external host is a
namespace on the flat physical network. Run: sudo .venv/bin/python -m bench.bench_l3 [--fips 100]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
import uuid

import structlog

from netledger.deploy import nats as nats_deploy
from netledger.deploy.hosts import Cluster
from netledger.services.l3.lab import EXT_IP, L3Lab, curl, ping, sh

log = structlog.get_logger("bench.l3")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def until(check, timeout: float = 60.0, step: float = 0.02) -> float:
    start = time.monotonic()
    while not await asyncio.to_thread(check):
        if time.monotonic() - start > timeout:
            return float("nan")
        await asyncio.sleep(step)
    return time.monotonic() - start


async def interface_add_latency(lab: L3Lab, ext: dict, runs: int = 3) -> list[float]:
    out = []
    for i in range(runs):
        router = await lab.create("router", name=f"b-if-{i}", external_gateway_info={"network_id": ext["id"]})
        net_a, sub_a = await lab.lan(f"10.{100 + i}.1.0/24")
        net_b, sub_b = await lab.lan(f"10.{100 + i}.2.0/24")
        await lab.api("PUT", f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub_a["id"]})
        _, vm_a = await lab.instance(0, net_a, sub_a)
        pb, _ = await lab.instance(1, net_b, sub_b)
        await until(lambda: curl(vm_a, f"http://{EXT_IP}:8000/", 0.5) is not None)
        ip_b = pb["fixed_ips"][0]["ip_address"]
        start = time.monotonic()
        await lab.api("PUT", f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub_b["id"]})
        api_s = time.monotonic() - start
        await until(lambda: ping(vm_a, ip_b, wait=0.2))
        out.append(time.monotonic() - start)
        log.info("interface add", api_s=round(api_s, 3), forwarding_s=round(out[-1], 3))
    return out


async def fip_latency(lab: L3Lab, ext: dict, count: int) -> tuple[list[float], list[float]]:
    """``count`` ports whose addresses all live on one instance (one MAC answers for all)."""
    router = await lab.create("router", name="b-fip", external_gateway_info={"network_id": ext["id"]})
    net, sub = await lab.lan("10.120.0.0/22")
    await lab.api("PUT", f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    first, vm = await lab.instance(0, net, sub)
    ports = [first]
    for _ in range(count - 1):
        p = await lab.create("port", network_id=net["id"], device_owner="compute:nova", device_id="bench")
        sh("ip", "-n", vm, "addr", "add", f"{p['fixed_ips'][0]['ip_address']}/22", "dev", "eth0")
        ports.append(p)
    lab.echo(vm, "0.0.0.0")
    await until(lambda: curl(vm, f"http://{EXT_IP}:8000/", 0.5) is not None)
    api_s, reach_s = [], []
    for p in ports:
        start = time.monotonic()
        fip = await lab.create("floatingip", floating_network_id=ext["id"], port_id=p["id"])
        api_s.append(time.monotonic() - start)
        addr = fip["floating_ip_address"]
        await until(lambda: ping(lab.ext_ns, addr, wait=0.2), step=0.0)
        reach_s.append(time.monotonic() - start)
    return api_s, reach_s


async def failover(lab: L3Lab, ext: dict) -> float:
    router = await lab.create("router", name="b-fo", external_gateway_info={"network_id": ext["id"]})
    net, sub = await lab.lan("10.130.0.0/24")
    await lab.api("PUT", f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    _, vm = await lab.instance(0, net, sub)
    url = f"http://{EXT_IP}:8000/"
    await until(lambda: curl(vm, url, 0.5) is not None)
    host = lab._call("GET", f"/v2.0/routers/{router['id']}/l3-agents")[1]["agents"][0]["host"]
    h = next(x for x in lab.cluster.hosts if x.name == host)
    start = time.monotonic()
    await lab.kill_l3(h)
    for name in h.ovs.vsctl("--bare", "--columns=name", "find", "Interface",
                            f"external_ids:netledger-router={router['id']}").split():
        h.ovs.vsctl("--if-exists", "del-port", "br-int", name)
    sh("ip", "netns", "delete", lab.l3[host].cfg.netns(router["id"]), check=False)
    await until(lambda: curl(vm, url, 0.3) is not None, timeout=90, step=0.05)
    return time.monotonic() - start


async def run(fips: int) -> dict:
    work = tempfile.mkdtemp(prefix="nl-bench-l3-")
    port = 20000 + os.getpid() % 20000
    nats = nats_deploy.start(workdir=os.path.join(work, "nats"), port=port)
    figures: dict = {}
    try:
        with Cluster(count=2, physnet=True) as cluster:
            lab = L3Lab(cluster, f"nats://127.0.0.1:{port}", prefix="b" + uuid.uuid4().hex[:8], down_time=3.0)
            try:
                await lab.start()
                ext, _ = await lab.external_network()
                figures["interface_add_s"] = await interface_add_latency(lab, ext)
                figures["fip_api_s"], figures["fip_reach_s"] = await fip_latency(lab, ext, fips)
                figures["failover_s"] = await failover(lab, ext)
                figures["down_time_s"] = lab.down_time
            finally:
                await lab.close()
    finally:
        nats.terminate()
        nats.wait(10)
    return figures


def report(f: dict) -> None:
    lines = [
        "router-interface-add -> forwarding: " + ", ".join(f"{x:.2f}" for x in f["interface_add_s"]) + " s",
        f"floating IP associate -> reachable ({len(f['fip_reach_s'])}): p50 {pct(f['fip_reach_s'], 50) * 1000:.0f} ms"
        f"  p99 {pct(f['fip_reach_s'], 99) * 1000:.0f} ms  (API answer p50 {pct(f['fip_api_s'], 50) * 1000:.0f} ms,"
        f" mean reach {statistics.mean(f['fip_reach_s']) * 1000:.0f} ms)",
        f"failover (agent_down_time {f['down_time_s']:.0f} s, heartbeat 1 s): traffic again after "
        f"{f['failover_s']:.2f} s",
    ]
    for line in lines:
        log.info(line)
        os.write(1, (line + "\n").encode())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="bench_l3")
    ap.add_argument("--fips", type=int, default=int(os.environ.get("BENCH_L3_FIPS", "100")))
    args = ap.parse_args(argv or [])
    # Workers log every plan at info: keep the figures readable.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    report(asyncio.run(run(args.fips)))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
