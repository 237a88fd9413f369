"""Crash and restart under load: kill -9 the API processes, the topology service and the
nats-server itself at random moments while clients write; afterwards nothing a client
was told succeeded is missing, nothing is half-applied, and the projection equals a
rebuild from the stream."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error

import pytest

from netledger.deploy import nats as nats_deploy
from tests.integration.test_projection import dump
from tests.support import Client, destroy_stack, free_port, start_stack

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

WRITES = int(os.environ.get("CHAOS_WRITES", "1500"))
KILLS = int(os.environ.get("CHAOS_KILLS", "12"))
CLIENTS = 8
OK = {200, 201, 204}


PATHS = {"port": "ports", "network": "networks", "security_group": "security-groups",
         "security_group_rule": "security-group-rules", "router": "routers"}


class Ledger:
    """What the clients were told, per resource."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.created: dict[str, str] = {}        # id -> kind (2xx create)
        self.deleted: set[str] = set()           # 2xx delete
        self.uncertain_delete: set[str] = set()  # delete without a clear answer
        self.statuses: list[int] = []
        self.ops: dict[str, int] = {}            # operation -> attempts
        self.writes = 0

    def record(self, op: str, status: int) -> None:
        with self.lock:
            self.statuses.append(status)
            self.ops[op] = self.ops.get(op, 0) + 1
            self.writes += 1


def safe(call):
    try:
        return call()
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return 0, None  # no answer


class Writer:
    """One client's random writes; it deletes only what it created itself."""

    def __init__(self, apis: list[Client], ledger: Ledger, rng: random.Random, nets: list[str]) -> None:
        self.apis, self.ledger, self.rng, self.nets = apis, ledger, rng, nets
        self.mine: dict[str, list[str]] = {kind: [] for kind in PATHS}

    def step(self) -> tuple[str, int]:
        rng, mine = self.rng, self.mine
        roll = rng.random()
        if roll < 0.45 or not mine["port"]:
            return "create port", self.create("port", {"network_id": rng.choice(self.nets)})
        if roll < 0.57:
            pid = rng.choice(mine["port"])
            return "update port", self.call("put", f"/v2.0/ports/{pid}", {"port": {"name": f"n{rng.randrange(99)}"}})
        if roll < 0.69:
            return "delete port", self.delete("port")
        if roll < 0.74 or not mine["security_group"]:
            return "create security group", self.create("security_group", {"name": f"g{rng.randrange(999)}"})
        if roll < 0.84:
            rule = {"security_group_id": rng.choice(mine["security_group"]), "direction": "ingress",
                    "ethertype": "IPv4", "protocol": "tcp"}
            rule["port_range_min"] = rule["port_range_max"] = rng.randrange(1, 65536)
            return "create rule", self.create("security_group_rule", rule)
        if roll < 0.89 and mine["security_group_rule"]:
            return "delete rule", self.delete("security_group_rule")
        if roll < 0.93:
            return "create router", self.create("router", {"name": f"r{rng.randrange(999)}"})
        if roll < 0.97 or not mine["network"]:
            return "create network", self.create("network", {"name": f"x{rng.randrange(999)}"})
        return "delete network", self.delete("network")

    def call(self, method: str, path: str, body=None) -> int:
        api = self.rng.choice(self.apis)
        status, _ = safe(lambda: getattr(api, method)(path, body) if body is not None else getattr(api, method)(path))
        return status

    def create(self, kind: str, attrs: dict) -> int:
        api = self.rng.choice(self.apis)
        status, body = safe(lambda: api.post(f"/v2.0/{PATHS[kind]}", {kind: attrs}))
        if status == 201:
            rid = body[kind]["id"]
            with self.ledger.lock:
                self.ledger.created[rid] = kind
            self.mine[kind].append(rid)
        return status

    def delete(self, kind: str) -> int:
        rid = self.mine[kind].pop(self.rng.randrange(len(self.mine[kind])))
        status = self.call("delete", f"/v2.0/{PATHS[kind]}/{rid}")
        with self.ledger.lock:
            (self.ledger.deleted if status == 204 else self.ledger.uncertain_delete).add(rid)
        return status


def client_loop(apis: list[Client], ledger: Ledger, rng: random.Random, nets: list[str], budget: list[int],
                chaos_done: threading.Event) -> None:
    """Writes until the budget is spent and the chaos is over (so kills land mid-load)."""
    writer = Writer(apis, ledger, rng, nets)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        with ledger.lock:
            if budget[0] <= 0 and chaos_done.is_set():
                return
        op, status = writer.step()
        ledger.record(op, status)
        if status == 0:
            time.sleep(0.05)  # the API is down: do not spin
        else:
            with ledger.lock:
                budget[0] -= 1


def chaos_loop(stack, nats_ctl, done: threading.Event, rng: random.Random, kills: list[str]) -> None:
    victims = ["api0", "api1", "topology", "nats"]
    while len(kills) < KILLS:
        time.sleep(rng.uniform(0.3, 1.2))
        # Every victim at least once, then at random.
        victim = victims[len(kills)] if len(kills) < len(victims) else rng.choice(victims)
        kills.append(victim)
        if victim == "nats":
            nats_ctl["proc"].kill()
            nats_ctl["proc"].wait()
            time.sleep(rng.uniform(0.2, 1.0))
            nats_ctl["proc"] = nats_deploy.start(**nats_ctl["args"])
            continue
        stack.stop(victim, sig="kill")
        time.sleep(rng.uniform(0.2, 1.0))
        port = stack.api_urls[int(victim[3:])].rsplit(":", 1)[1] if victim.startswith("api") else None
        stack.spawn(victim, ["api", "--port", port] if port else ["topology"])
    done.set()


@pytest.fixture
def chaos_env():
    work = tempfile.mkdtemp(prefix="nl-chaos-")
    args = dict(workdir=os.path.join(work, "nats"), port=free_port())
    ctl = {"args": args, "proc": nats_deploy.start(**args)}
    # Debug logs carry one line per request (method, path, status, request id): the
    # failure report quotes the lines of the requests that touched a missing resource.
    stack = start_stack(f"nats://127.0.0.1:{args['port']}", apis=2, extra_env={"NETLEDGER_LOG_LEVEL": "debug"})
    try:
        yield stack, ctl
    finally:
        destroy_stack(stack)
        ctl["proc"].kill()
        ctl["proc"].wait()


def wait_healthy(stack, timeout: float = 60.0) -> None:
    """Every API process answers and a fresh write is visible through each of them."""
    deadline = time.monotonic() + timeout
    for url in stack.api_urls:
        while True:
            status, body = safe(lambda: Client(url).post("/v2.0/networks", {"network": {"name": "probe"}}))
            if status == 201:
                break
            assert time.monotonic() < deadline, f"{url} not healthy: {status} {body}"
            time.sleep(0.5)


def first_difference(a: list, b: list) -> str:
    """The first differing row pair, with the differing JSON keys of their bodies."""
    import json as _json

    for x, y in zip(a, b):
        if x != y:
            keys = []
            for vx, vy in zip(x, y):
                if vx != vy and isinstance(vx, str) and vx.startswith("{"):
                    bx, by = _json.loads(vx), _json.loads(vy)
                    keys = [(k, bx.get(k), by.get(k)) for k in set(bx) | set(by) if bx.get(k) != by.get(k)]
            return f"live={x[:2]} rebuilt={y[:2]} columns={[i for i, (p, q) in enumerate(zip(x, y)) if p != q]} {keys}"
    return f"lengths {len(a)} vs {len(b)}"


def logs_mentioning(stack, history: str) -> str:
    """Every log line of the stack that names one of the request ids in ``history``."""
    import glob
    import re

    ids = set(re.findall(r"req-[0-9a-f-]{36}", history))
    lines = []
    for path in sorted(glob.glob(os.path.join(stack.workdir, "*.log"))):
        with open(path, errors="replace") as fh:
            lines += [f"{os.path.basename(path)}: {line.rstrip()}" for line in fh if any(i in line for i in ids)]
    return "\n".join(lines[-60:])


def run(stack, *args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "netledger.cli", "--nats", stack.nats_url, "--prefix", stack.prefix, *args]
    return subprocess.run(cmd, env=stack.env, capture_output=True, text=True, timeout=300)


def test_kill_everything_under_load(chaos_env):
    stack, nats_ctl = chaos_env
    apis = [Client(u) for u in stack.api_urls]
    nets = []
    for i in range(3):
        status, body = apis[0].post("/v2.0/networks", {"network": {"name": f"chaos{i}"}})
        if status != 201:
            for n in stack.procs:
                print("=====", n, open(os.path.join(stack.workdir, f"{n}.log")).read()[-4000:])
        assert status == 201
        net = body["network"]
        apis[0].create("subnet", network_id=net["id"], cidr=f"10.{60 + i}.0.0/16", ip_version=4)
        nets.append(net["id"])
    ledger, budget, kills, chaos_done = Ledger(), [WRITES], [], threading.Event()
    rng = random.Random(int(os.environ.get("CHAOS_SEED", "11")))
    chaos = threading.Thread(target=chaos_loop, args=(stack, nats_ctl, chaos_done, random.Random(rng.random()), kills))
    chaos.start()
    workers = [threading.Thread(target=client_loop, args=(apis, ledger, random.Random(rng.random()), nets, budget,
                                                             chaos_done))
               for _ in range(CLIENTS)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    chaos.join()
    wait_healthy(stack)
    from collections import Counter
    print("statuses", Counter(ledger.statuses), "kills", kills)

    assert 500 not in ledger.statuses, "a request got a 500"
    assert set(ledger.statuses) <= {0, 200, 201, 204, 404, 409, 503}, set(ledger.statuses)
    answered = sum(1 for st in ledger.statuses if st)
    assert len(kills) >= KILLS and answered >= WRITES
    # Everything acknowledged is there; everything acknowledged as deleted is gone.
    for rid, kind in ledger.created.items():
        status, _ = apis[1].get(f"/v2.0/{PATHS[kind]}/{rid}")
        if rid in ledger.uncertain_delete:
            continue  # a delete without a clear answer may or may not have happened
        expected = 404 if rid in ledger.deleted else 200
        if status != expected:
            everything = run(stack, "events", "tail", "--since", "1", "--no-follow").stdout.splitlines()
            history = "\n".join(line for line in everything if rid in line)
            what = "delete" if expected == 404 else "create"
            raise AssertionError(f"acknowledged {what} of {rid} answers {status}: {history}\n"
                                 f"{logs_mentioning(stack, history)}")
    # Nothing half-applied once the janitor released claims of interrupted requests.
    result = run(stack, "janitor", "--grace", "0")
    assert result.returncode == 0, result.stderr
    wait_healthy(stack)
    conn = sqlite3.connect(stack.db_path)
    orphan_ips = conn.execute("""SELECT count(*) FROM ip_claims c WHERE held = 1 AND NOT EXISTS (
        SELECT 1 FROM ports p, json_each(json_extract(p.body, '$.fixed_ips')) f WHERE p.id = c.owner
        AND json_extract(f.value, '$.ip_address') = c.ip_address)""").fetchone()[0]
    unclaimed = conn.execute("""SELECT count(*) FROM ports p, json_each(json_extract(p.body, '$.fixed_ips')) f
        WHERE NOT EXISTS (SELECT 1 FROM ip_claims c WHERE c.held = 1 AND c.owner = p.id
        AND c.ip_address = json_extract(f.value, '$.ip_address'))""").fetchone()[0]
    if (orphan_ips, unclaimed) != (0, 0):
        detail = conn.execute("""SELECT p.id, json_extract(f.value, '$.ip_address'), c.owner, c.held, c.seq, c.time
            FROM ports p, json_each(json_extract(p.body, '$.fixed_ips')) f LEFT JOIN ip_claims c
            ON c.ip_address = json_extract(f.value, '$.ip_address') WHERE NOT EXISTS (
            SELECT 1 FROM ip_claims c2 WHERE c2.held = 1 AND c2.owner = p.id
            AND c2.ip_address = json_extract(f.value, '$.ip_address'))""").fetchall()
        orphans = conn.execute("""SELECT * FROM ip_claims c WHERE held = 1 AND NOT EXISTS (
            SELECT 1 FROM ports p, json_each(json_extract(p.body, '$.fixed_ips')) f WHERE p.id = c.owner
            AND json_extract(f.value, '$.ip_address') = c.ip_address)""").fetchall()
        everything = run(stack, "events", "tail", "--since", "1", "--no-follow").stdout.splitlines()
        history = [line for d in detail for line in everything if d[0] in line or d[1] in line]
        raise AssertionError(f"unclaimed={detail} orphans={orphans} history={history}")
    # The live projection equals a rebuild from the stream, row for row.
    fresh = os.path.join(stack.workdir, "rebuilt.db")
    result = run(stack, "projection", "rebuild", "--db", fresh)
    assert result.returncode == 0, result.stderr
    live, rebuilt = dump(stack.db_path, every_table=True), dump(fresh, every_table=True)
    assert set(live) == set(rebuilt)
    for table in sorted(live):
        assert live[table] == rebuilt[table], (table, first_difference(live[table], rebuilt[table]))
    print(f"chaos: {answered} answered writes ({ledger.writes} attempts), {len(kills)} kills ({', '.join(sorted(set(kills)))}), "
          f"{sum(1 for s in ledger.statuses if s in OK)} acknowledged, "
          f"{sum(1 for s in ledger.statuses if s in (0, 503))} unanswered/503, {len(live)} tables equal after rebuild; "
          f"operations {dict(sorted(ledger.ops.items()))}")
