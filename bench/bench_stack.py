"""The API as users run it: the all-in-one behind a real Keystone, every local worker up.

`python -m bench.run stack` (or `make bench`): Keystone (tests/keystone), `netledger up`
with `auth_strategy = "keystone"`, a member's token in a non-admin project, then the
operations of the performance issue's table in its order, with 1 and 16 clients, printing
ops/s and p50/p90/p99 per operation, then the same table as admin (16 clients), then CPU seconds per process
(API, topology, each worker, nats-server, OVS, Keystone) over the whole run.

`BENCH_STACK_OPS` (200) sets the operations per 16-client run; the 1-client run does a
quarter. Setup (networks the subnets go on, the ports a list filters, the routers an
interface goes to) is not timed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from tests.keystone.allinone import KeystoneAllInOne, keystone_allinone

from .bench_api import pct

PASSWORD = "bench-" + uuid.uuid4().hex[:8]
Op = Callable[[aiohttp.ClientSession, int], Awaitable[bool]]


class Api:
    """The few calls the benchmark makes, each answering ok / not ok (or the body)."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.headers = url + "/v2.0", {"X-Auth-Token": token}

    async def post(self, s, path: str, body: dict, key: str | None = None):
        async with s.post(self.url + path, json=body, headers=self.headers) as r:
            data = await r.json(content_type=None)
            return data[key] if r.status in (200, 201) and key else (r.status in (200, 201))

    async def put(self, s, path: str, body: dict) -> bool:
        async with s.put(self.url + path, json=body, headers=self.headers) as r:
            await r.read()
            return r.status == 200

    async def delete(self, s, path: str) -> bool:
        async with s.delete(self.url + path, headers=self.headers) as r:
            await r.read()
            return r.status == 204

    async def get(self, s, path: str) -> bool:
        async with s.get(self.url + path, headers=self.headers) as r:
            await r.read()
            return r.status == 200


async def drive(n: int, clients: int, op: Op) -> dict:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(n))

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
    return {"clients": clients, "ops": n, "ops_s": n / elapsed, "p50": pct(latencies, 50),
            "p90": pct(latencies, 90), "p99": pct(latencies, 99), "errors": errors}


class Scenario:
    """Resources each timed operation works on, made beforehand (untimed) per run."""

    def __init__(self, api: Api, admin: Api, ext_net: str, run: int, n: int) -> None:
        self.api, self.admin, self.ext_net, self.run, self.n = api, admin, ext_net, run, n
        self.ids: dict[str, list] = {}

    def net24(self, base: int, i: int) -> str:
        """A /24 of its own for item i of a run (10.<base+run>.<i>.0/24, i < 256)."""
        return str(ipaddress.ip_network(f"10.{base + self.run}.{i}.0/24"))

    async def make(self, s, kind: str, body: dict) -> dict:
        out = await self.api.post(s, f"/{kind.replace('_', '-')}s", {kind: body}, kind)
        if isinstance(out, dict):
            return out
        raise RuntimeError(f"setup: creating a {kind} failed ({body})")

    def ops(self) -> list[tuple[str, Op | None, Op]]:
        """(name, untimed setup run once, timed op) in the issue's table order."""
        a, ids = self.api, self.ids

        def keep(key: str, out) -> bool:
            if isinstance(out, dict):
                ids.setdefault(key, []).append(out["id"])
            return isinstance(out, dict)

        def nth(key: str, i: int) -> str:
            """The i-th resource an earlier timed op made ("missing" if that op failed: a 404)."""
            made = ids.get(key, [])
            return made[i] if i < len(made) else "missing"

        async def network_create(s, i):
            out = await a.post(s, "/networks", {"network": {"name": f"b{i}"}}, "network")
            return keep("net", out)

        async def network_delete(s, i):
            return await a.delete(s, f"/networks/{nth('net', i)}")

        async def subnet_setup(s):
            ids["snet"] = [(await self.make(s, "network", {"name": f"sn{i}"}))["id"] for i in range(self.n)]

        async def subnet_create(s, i):
            out = await a.post(s, "/subnets", {"subnet": {"network_id": ids["snet"][i], "ip_version": 4,
                                                          "cidr": self.net24(100, i)}}, "subnet")
            return keep("subnet", out)

        async def subnet_delete(s, i):
            return await a.delete(s, f"/subnets/{nth('subnet', i)}")

        async def port_setup(s):
            net = await self.make(s, "network", {"name": "ports"})
            sub = await self.make(s, "subnet", {"network_id": net["id"], "ip_version": 4,
                                                "cidr": f"10.{200 + self.run}.0.0/16"})
            ids["pnet"], ids["psub"] = net["id"], sub["id"]

        async def port_create(s, i):
            body = {"port": {"network_id": ids["pnet"], "fixed_ips": [
                {"subnet_id": ids["psub"], "ip_address": f"10.{200 + self.run}.{1 + i // 200}.{10 + i % 200}"}]}}
            out = await a.post(s, "/ports", body, "port")
            return keep("port", out)

        async def port_delete(s, i):
            return await a.delete(s, f"/ports/{nth('port', i)}")

        async def list_setup(s):
            for i in range(50):   # the network listed holds 50 ports; the ip filter finds one
                await a.post(s, "/ports", {"port": {"network_id": ids["pnet"], "fixed_ips": [
                    {"subnet_id": ids["psub"], "ip_address": f"10.{200 + self.run}.250.{10 + i}"}]}})

        async def list_by_network(s, i):
            return await a.get(s, f"/ports?network_id={ids['pnet']}")

        async def list_by_ip(s, i):
            return await a.get(s, f"/ports?fixed_ips=ip_address%3D10.{200 + self.run}.250.{10 + i % 50}")

        async def router_create(s, i):
            out = await a.post(s, "/routers", {"router": {"name": f"r{i}", "external_gateway_info": {
                "network_id": self.ext_net}}}, "router")
            return keep("router", out)

        async def router_delete(s, i):
            return await a.delete(s, f"/routers/{nth('router', i)}")

        async def interface_setup(s):
            ids["irouter"] = [(await self.make(s, "router", {"name": f"ir{k}"}))["id"] for k in range(8)]
            ids["isub"] = []
            for i in range(self.n):
                net = await self.make(s, "network", {"name": f"in{i}"})
                ids["isub"].append((await self.make(s, "subnet", {"network_id": net["id"], "ip_version": 4,
                                                                  "cidr": self.net24(120, i)}))["id"])

        async def interface_add(s, i):
            return await a.put(s, f"/routers/{ids['irouter'][i % 8]}/add_router_interface",
                               {"subnet_id": ids["isub"][i]})

        async def interface_remove(s, i):
            return await a.put(s, f"/routers/{ids['irouter'][i % 8]}/remove_router_interface",
                               {"subnet_id": ids["isub"][i]})

        async def fip_setup(s):
            net = await self.make(s, "network", {"name": "fip-int"})
            sub = await self.make(s, "subnet", {"network_id": net["id"], "ip_version": 4,
                                                "cidr": f"10.{140 + self.run}.0.0/16"})
            router = await self.make(s, "router", {"name": "fip-r", "external_gateway_info": {
                "network_id": self.ext_net}})
            await a.put(s, f"/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
            ids["fport"] = [(await self.make(s, "port", {"network_id": net["id"]}))["id"] for _ in range(self.n)]

        async def fip_create(s, i):
            out = await a.post(s, "/floatingips", {"floatingip": {"floating_network_id": self.ext_net}},
                               "floatingip")
            return keep("fip", out)

        async def fip_associate(s, i):
            return await a.put(s, f"/floatingips/{nth('fip', i)}", {"floatingip": {"port_id": ids["fport"][i]}})

        async def fip_delete(s, i):
            return await a.delete(s, f"/floatingips/{nth('fip', i)}")

        async def sg_create(s, i):
            out = await a.post(s, "/security-groups", {"security_group": {"name": f"sg{i}"}}, "security_group")
            return keep("sg", out)

        async def sg_delete(s, i):
            return await a.delete(s, f"/security-groups/{nth('sg', i)}")

        async def rule_setup(s):
            ids["rsg"] = (await self.make(s, "security_group", {"name": "rules"}))["id"]

        async def rule_create(s, i):
            return await a.post(s, "/security-group-rules", {"security_group_rule": {
                "security_group_id": ids["rsg"], "direction": "ingress", "protocol": "tcp",
                "port_range_min": 1000 + i, "port_range_max": 1000 + i}})

        return [("network create", None, network_create), ("network delete", None, network_delete),
                ("subnet create", subnet_setup, subnet_create), ("subnet delete", None, subnet_delete),
                ("port create (fixed IPs)", port_setup, port_create), ("port delete", None, port_delete),
                ("port list by network", list_setup, list_by_network), ("port list by fixed IP", None, list_by_ip),
                ("router create with gateway", None, router_create), ("router delete", None, router_delete),
                ("router add interface", interface_setup, interface_add),
                ("router remove interface", None, interface_remove),
                ("floating IP create", fip_setup, fip_create), ("floating IP associate", None, fip_associate),
                ("floating IP delete", None, fip_delete),
                ("security group create", None, sg_create), ("security group delete", None, sg_delete),
                ("security group rule create", rule_setup, rule_create)]


async def external_network(admin: Api) -> str:
    async with aiohttp.ClientSession() as s:
        net = await admin.post(s, "/networks", {"network": {"name": "bench-ext", "router:external": True}},
                               "network")
        for cidr in ("203.0.113.0/24", "198.51.100.0/24"):
            await admin.post(s, "/subnets", {"subnet": {"network_id": net["id"], "cidr": cidr, "ip_version": 4,
                                                        "enable_dhcp": False}})
        return net["id"]


async def run_pass(api: Api, admin: Api, ext_net: str, run: int, clients: int, n: int) -> list:
    scenario = Scenario(api, admin, ext_net, run, n)
    rows = []
    async with aiohttp.ClientSession() as s:
        for name, setup, op in scenario.ops():
            if setup:
                await setup(s)
            fig = await drive(n, clients, op)
            rows.append((name, fig))
            print_row(name, fig)
    return rows


def print_row(name: str, fig: dict) -> None:
    print(f"{name:28s} clients={fig['clients']:<3d} {fig['ops_s']:8.1f} ops/s  p50 {fig['p50']:6.1f}  "
          f"p90 {fig['p90']:6.1f}  p99 {fig['p99']:6.1f} ms  errors {fig['errors']}", flush=True)


def cpu_seconds(pids: list[int]) -> dict[str, float]:
    """utime+stime per process name (netledger subcommand, or the executable)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [w.decode(errors="replace") for w in argv if w]
        name = os.path.basename(words[0]) if words else str(pid)
        if "netledger.cli" in words:
            name = next((w for w in words[words.index("netledger.cli") + 1:] if not w.startswith("-")
                         and ("agent" in w or w in ("api", "topology", "up"))), "netledger")
        elif any(w.endswith("serve.py") for w in words):
            name = "keystone"
        out[name] = out.get(name, 0.0) + (int(stat[11]) + int(stat[12])) / tick
    return out


async def bench(aio: KeystoneAllInOne, n: int) -> None:
    member = Api(aio.api_url, aio.token("bench", "bench"))
    admin = Api(aio.api_url, aio.token("admin", "admin"))
    ext_net = await external_network(admin)
    pids = aio.pids() + [aio.keystone.proc.pid]
    before = cpu_seconds(pids)
    started = time.perf_counter()
    print("-- member of a non-admin project, Keystone tokens")
    await run_pass(member, admin, ext_net, 0, 1, max(n // 4, 10))
    await run_pass(member, admin, ext_net, 1, 16, n)
    print("-- admin")
    await run_pass(admin, admin, ext_net, 2, 16, n)
    wall = time.perf_counter() - started
    after = cpu_seconds(aio.pids() + [aio.keystone.proc.pid])
    print(f"-- CPU seconds per process over {wall:.0f} s of load (2 cores = {2 * wall:.0f} CPU s available)")
    for name, secs in sorted(after.items(), key=lambda kv: -(kv[1] - before.get(kv[0], 0.0))):
        if secs - before.get(name, 0.0) >= 0.05:
            print(f"{name:24s} {secs - before.get(name, 0.0):8.1f}")


def main() -> None:
    n = int(os.environ.get("BENCH_STACK_OPS", "200"))
    if n > 250:
        raise SystemExit("BENCH_STACK_OPS must be <= 250 (one /24 per subnet in a run)")
    with keystone_allinone(password=PASSWORD, projects={"bench": "bench"},
                           extra_env={"NETLEDGER_LOG_LEVEL": "warning"}) as aio:
        asyncio.run(bench(aio, n))


if __name__ == "__main__":
    main()
