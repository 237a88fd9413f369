"""Load-balancer behaviours with real traffic, on one lab and one load balancer.

One LB, one listener per behaviour (so tests never disturb each other's HAProxy
state): least connections, source-IP hashing, source-IP and cookie persistence, a
connection limit, L7 path switching and REJECT, and a member added while a long
request is in flight (a ``-sf`` reload must let it finish).

Assertions are about *which* backend answered and about HAProxy's own counters
(``show stat``: scur/smax/slim), never about how long anything took: long requests
are held open (``/slow=60``) and their presence is checked in the stats before and
after the requests that depend on them.
"""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import uuid

import pytest
import pytest_asyncio

from netledger.services.advanced.lb.lab import LbLab
from netledger.services.l3.lab import sh

pytestmark = [pytest.mark.dataplane, pytest.mark.asyncio(loop_scope="module")]

CIDR = "10.62.0.0/24"
SOURCES = [f"10.62.0.{200 + i}" for i in range(1, 7)]      # extra client addresses, outside the pool
PORTS = {"l7": 80, "leastconn": 81, "source": 82, "stick_src": 83, "cookie": 84, "limit": 85, "inflight": 86}


# --- traffic helpers (curl in the client namespace; processes we start, stopped by pid)

def get(ns: str, url: str, *extra: str, timeout: float = 5) -> tuple[int, str]:
    """(HTTP status, body); status 0 when curl failed."""
    r = sh("ip", "netns", "exec", ns, "curl", "-s", "-m", str(timeout), "-w", "\n%{http_code}", *extra, url,
           check=False, timeout=timeout + 10)
    if r.returncode != 0:
        return 0, ""
    body, _, code = r.stdout.rpartition("\n")
    return int(code), body.strip()


def names(ns: str, url: str, n: int, *extra: str) -> list[str]:
    return [get(ns, url, *extra)[1] for _ in range(n)]


def background(ns: str, url: str) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", ns, "curl", "-s", "-m", "120", "-w", "\n%{http_code}", url],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
        p.wait(10)


async def stats(lab: LbLab, lb_id: str) -> dict[tuple[str, str], dict[str, str]]:
    """HAProxy ``show stat`` rows keyed (proxy, server): frontends are listener ids,
    backends pool ids, servers member ids."""
    w = next(w for w in lab.lb.values() if lb_id in w.applied)
    lines = [ln for ln in (await w.driver.show_stat(lb_id)).splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("# "):
        return {}
    header = lines[0][2:].split(",")
    rows = (dict(zip(header, ln.split(","))) for ln in lines[1:])
    return {(r["pxname"], r["svname"]): r for r in rows}


async def until(fn, what: str, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await fn():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {what}")
        await asyncio.sleep(0.2)


def busy(st: dict, pool_id: str) -> dict[str, int]:
    """member id -> current sessions, for one pool."""
    return {sv: int(r["scur"] or 0) for (px, sv), r in st.items() if px == pool_id and sv not in ("BACKEND",)}


# --- the lab: one per module

class Env:
    def __init__(self, lab: LbLab) -> None:
        self.lab = lab
        self.backends: list[tuple[str, str, str]] = []      # (netns, ip, name)
        self.listeners: dict[str, dict] = {}
        self.pools: dict[str, dict] = {}
        self.member_names: dict[str, str] = {}             # member id -> backend name

    def url(self, key: str, path: str = "/") -> str:
        return f"http://{self.lb['vip_address']}:{PORTS[key]}{path}"

    async def build(self) -> None:
        lab = self.lab
        self.net = await lab.create("network", name="lb-behaviours")
        self.sub = await lab.create("subnet", network_id=self.net["id"], cidr=CIDR, ip_version=4, enable_dhcp=False,
                                    allocation_pools=[{"start": "10.62.0.2", "end": "10.62.0.150"}])
        for i in range(3):
            port, ns = await lab.instance(i % 2, self.net, self.sub)
            ip = port["fixed_ips"][0]["ip_address"]
            lab.backend(ns, ip, f"be{i + 1}")
            self.backends.append((ns, ip, f"be{i + 1}"))
        ns3, ip3, _ = self.backends[2]
        lab.backend(ns3, ip3, "apisrv", port=8081)
        _, self.client = await lab.instance(0, self.net, self.sub)
        for ip in SOURCES:
            sh("ip", "-n", self.client, "addr", "add", f"{ip}/24", "dev", "eth0")
        self.lb = await lab.make("loadbalancer", "loadbalancers", name="lb-behaviours", vip_subnet_id=self.sub["id"])
        every = self.backends
        await self.listener("leastconn", "LEAST_CONNECTIONS", every)
        await self.listener("source", "SOURCE_IP", every)
        await self.listener("stick_src", "ROUND_ROBIN", every, persistence={"type": "SOURCE_IP"})
        await self.listener("cookie", "ROUND_ROBIN", every, persistence={"type": "HTTP_COOKIE"})
        await self.listener("limit", "ROUND_ROBIN", every, connection_limit=2)
        await self.listener("inflight", "ROUND_ROBIN", every[:1])
        await self.listener("l7", "ROUND_ROBIN", every[:2])
        await self.l7()
        await until(self.all_up, "every listener answers", 90)

    async def listener(self, key: str, algorithm: str, members, persistence=None, **extra) -> None:
        lab = self.lab
        li = await lab.make("listener", "listeners", loadbalancer_id=self.lb["id"], protocol="HTTP",
                            protocol_port=PORTS[key], name=key, **extra)
        pool = await lab.make("pool", "pools", listener_id=li["id"], protocol="HTTP", lb_algorithm=algorithm, name=key,
                              **({"session_persistence": persistence} if persistence else {}))
        await self.members(pool, [(ip, 8080, name) for _, ip, name in members])
        self.listeners[key], self.pools[key] = li, pool

    async def members(self, pool: dict, members: list[tuple[str, int, str]]) -> None:
        lab = self.lab
        await lab.lbaas("PUT", f"pools/{pool['id']}/members",
                        {"members": [{"address": ip, "protocol_port": p, "name": n} for ip, p, n in members]})
        await lab.wait_active(self.lb["id"])
        got = (await lab.lbaas("GET", f"pools/{pool['id']}/members"))["members"]
        assert sorted(m["name"] for m in got) == sorted(n for _, _, n in members), got
        self.member_names.update({m["id"]: m["name"] for m in got})

    async def l7(self) -> None:
        lab = self.lab
        li = self.listeners["l7"]
        api = await lab.make("pool", "pools", loadbalancer_id=self.lb["id"], protocol="HTTP",
                             lb_algorithm="ROUND_ROBIN", name="api")
        await self.members(api, [(self.backends[2][1], 8081, "apisrv")])
        self.pools["api"] = api
        to_api = await lab.make("l7policy", "l7policies", listener_id=li["id"], action="REDIRECT_TO_POOL",
                                redirect_pool_id=api["id"], position=1, name="to-api")
        await lab.make("rule", f"l7policies/{to_api['id']}/rules", type="PATH", compare_type="STARTS_WITH",
                       value="/api")
        deny = await lab.make("l7policy", "l7policies", listener_id=li["id"], action="REJECT", position=2,
                              name="deny-admin")
        await lab.make("rule", f"l7policies/{deny['id']}/rules", type="PATH", compare_type="STARTS_WITH",
                       value="/admin")

    async def all_up(self) -> bool:
        def probe() -> bool:
            return all(get(self.client, self.url(k), timeout=2)[0] == 200 for k in PORTS)
        return await asyncio.to_thread(probe)

    async def stats(self) -> dict:
        return await stats(self.lab, self.lb["id"])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env(cluster, nats_server):
    if subprocess.run(["which", "haproxy"], capture_output=True).returncode:
        pytest.skip("haproxy not installed")
    lab = LbLab(cluster, nats_server, prefix="t" + uuid.uuid4().hex[:10])
    try:
        await lab.start()
        e = Env(lab)
        try:
            await e.build()
        except Exception:
            for name in ("api", "topology"):      # the lab's directory goes with it: show why
                with open(os.path.join(lab.workdir, f"{name}.log"), errors="replace") as f:
                    print(f"--- {name}.log (tail)\n" + "".join(f.readlines()[-40:]))
            raise
        yield e
    finally:
        await lab.close()


# --- behaviours

async def test_least_connections_avoids_busy_members(env):
    pool = env.pools["leastconn"]["id"]
    slow = []
    try:
        for n in (1, 2):        # one at a time: leastconn sends the second to an idle member
            slow.append(background(env.client, env.url("leastconn", "/slow=60")))
            await until(lambda n=n: _sum_busy(env, pool, n), f"{n} long request(s) in flight")
        held = {m for m, c in busy(await env.stats(), pool).items() if c}
        assert len(held) == 2, held
        quick = await asyncio.to_thread(names, env.client, env.url("leastconn"), 6)
        now = busy(await env.stats(), pool)
        assert {m for m, c in now.items() if c} == held, "the long requests must still be in flight"
        (idle,) = set(now) - held
        assert collections.Counter(quick) == {env.member_names[idle]: 6}, quick
    finally:
        stop(slow)


async def _sum_busy(env, pool: str, n: int) -> bool:
    return sum(busy(await env.stats(), pool).values()) == n


async def test_source_ip_algorithm_hashes_each_client_to_one_member(env):
    url = env.url("source")
    got = {ip: await asyncio.to_thread(names, env.client, url, 4, "--interface", ip) for ip in SOURCES}
    for ip, answers in got.items():
        assert len(set(answers)) == 1 and answers[0] in ("be1", "be2", "be3"), (ip, answers)
    assert len({a[0] for a in got.values()}) >= 2, f"{len(SOURCES)} sources all hashed to one member: {got}"


async def test_source_ip_persistence_sticks(env):
    url = env.url("stick_src")
    first = {ip: (await asyncio.to_thread(get, env.client, url, "--interface", ip))[1] for ip in SOURCES[:3]}
    # round robin places three new clients on three members; the stick table keeps them there
    assert sorted(first.values()) == ["be1", "be2", "be3"], first
    for _ in range(3):
        for ip, name in first.items():
            assert await asyncio.to_thread(get, env.client, url, "--interface", ip) == (200, name)


async def test_http_cookie_persistence_sticks(env):
    url = env.url("cookie")
    jar = os.path.join(env.lab.workdir, "cookies.txt")
    code, first = await asyncio.to_thread(get, env.client, url, "-c", jar)
    assert code == 200 and first in ("be1", "be2", "be3")
    cookie = next(ln.split("\t") for ln in open(jar).read().splitlines() if ln.strip() and "\tSRV\t" in ln)
    assert env.member_names[cookie[-1]] == first, "the cookie names the member that answered"
    assert set(await asyncio.to_thread(names, env.client, url, 6, "-b", jar)) == {first}
    # without the cookie, round robin still spreads new clients
    assert set(await asyncio.to_thread(names, env.client, url, 6)) == {"be1", "be2", "be3"}


async def test_connection_limit_is_enforced(env):
    li = env.listeners["limit"]["id"]
    held = []
    try:
        for n in (1, 2):
            held.append(background(env.client, env.url("limit", "/slow=60")))
            await until(lambda n=n: _frontend(env, li, "scur", n), f"{n} connection(s) on the limited listener")
        third = background(env.client, env.url("limit"))
        await asyncio.sleep(2)      # give a non-enforcing HAProxy every chance to accept it
        st = (await env.stats())[(li, "FRONTEND")]
        assert (st["slim"], st["scur"], st["smax"]) == ("2", "2", "2"), st
        assert third.poll() is None, "the third connection was served while two held the limit"
        stop(held[:1])              # a slot frees: the waiting request is accepted and served
        out, _ = await asyncio.to_thread(third.communicate, timeout=60)
        assert out.rsplit("\n", 1)[-1] == "200" and out.split("\n")[0] in ("be1", "be2", "be3"), out
        assert (await env.stats())[(li, "FRONTEND")]["smax"] == "2"
    finally:
        stop(held)


async def _frontend(env, li: str, field: str, value: int) -> bool:
    row = (await env.stats()).get((li, "FRONTEND"))
    return row is not None and int(row[field] or 0) == value


async def test_l7_path_rule_switches_pool_and_reject_rejects(env):
    before = await _served(env)
    assert set(await asyncio.to_thread(names, env.client, env.url("l7", "/api/v1/things"), 4)) == {"apisrv-api"}
    assert set(await asyncio.to_thread(names, env.client, env.url("l7", "/"), 4)) == {"be1", "be2"}
    assert set(await asyncio.to_thread(names, env.client, env.url("l7", "/apiary"), 2)) == {"apisrv-api"}
    code, _ = await asyncio.to_thread(get, env.client, env.url("l7", "/admin/users"))
    assert code == 403
    after = await _served(env)
    assert after["served"] - before["served"] == 10, "the rejected request reached no backend"
    assert after["denied"] - before["denied"] == 1, (before, after)


async def _served(env) -> dict[str, int]:
    st = await env.stats()
    pools = (env.pools["l7"]["id"], env.pools["api"]["id"])
    return {"served": sum(int(r["stot"] or 0) for (px, sv), r in st.items() if px in pools and sv != "BACKEND"),
            "denied": int(st[(env.listeners["l7"]["id"], "FRONTEND")]["dreq"] or 0)}


async def test_member_added_during_long_request(env):
    lab, pool = env.lab, env.pools["inflight"]
    w = next(w for w in lab.lb.values() if env.lb["id"] in w.applied)
    before = w.driver.pid(env.lb["id"])
    slow = background(env.client, env.url("inflight", "/slow=20"))
    try:
        await until(lambda: _sum_busy(env, pool["id"], 1), "the long request in flight")
        _, ip, name = env.backends[1]
        await lab.make("member", f"pools/{pool['id']}/members", address=ip, protocol_port=8080, name=name)
        await lab.wait(lambda: "be2" in names(env.client, env.url("inflight"), 2), 60, "the new member serves")
        assert w.driver.pid(env.lb["id"]) != before, "adding a member reloads HAProxy"
        assert slow.poll() is None, "inconclusive: the long request ended before the reload"
        out, _ = await asyncio.to_thread(slow.communicate, timeout=60)
        assert out == "be1\n200", f"the in-flight request survived the reload: {out!r}"
        assert set(await asyncio.to_thread(names, env.client, env.url("inflight"), 4)) == {"be1", "be2"}
    finally:
        stop([slow])
