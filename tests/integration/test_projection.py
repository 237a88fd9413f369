"""The projection is a pure function of the stream: a rebuild equals the live database,
row for row, after thousands of random operations; a restart resumes where it was."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.support import destroy_stack, start_stack

TABLES = ("networks", "subnets", "ports", "ip_claims", "mac_claims", "segment_claims", "port_status",
          "agents", "checkpoint")


def dump(path: str, every_table: bool = False) -> dict[str, list[tuple]]:
    """Rows of the core tables (or of every projection table), in a stable order."""
    conn = sqlite3.connect(path)
    try:
        tables = TABLES
        if every_table:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in tables}
    finally:
        conn.close()


def random_operations(api, rng: random.Random, count: int) -> int:
    """Creates, updates, tags and deletes at random; returns how many calls succeeded."""
    nets, ports, ok = [], [], 0
    for i in range(count):
        roll = rng.random()
        if roll < 0.08 or not nets:
            net = api.create("network", name=f"r{i}")
            cidr = f"10.{rng.randrange(256)}.{rng.randrange(256)}.0/24"
            api.create("subnet", network_id=net["id"], cidr=cidr, ip_version=4)
            nets.append(net["id"])
            ok += 2
            continue
        if roll < 0.55:
            status, body = api.post("/v2.0/ports", {"port": {"network_id": rng.choice(nets), "name": f"p{i}"}})
            if status == 201:
                ports.append(body["port"]["id"])
        elif roll < 0.70 and ports:
            status, _ = api.put(f"/v2.0/ports/{rng.choice(ports)}", {"port": {"name": f"u{i}",
                                                                          "admin_state_up": rng.random() < 0.5}})
        elif roll < 0.80 and ports:
            status, _ = api.put(f"/v2.0/ports/{rng.choice(ports)}/tags/t{i % 7}")
        elif roll < 0.92 and ports:
            victim = ports.pop(rng.randrange(len(ports)))
            status, _ = api.delete(f"/v2.0/ports/{victim}")
        else:
            status, _ = api.put(f"/v2.0/networks/{rng.choice(nets)}", {"network": {"description": f"d{i}"}})
        ok += status in (200, 201, 204)
    return ok


@pytest.fixture
def own_stack(nats_server):
    s = start_stack(nats_server)
    try:
        yield s
    finally:
        destroy_stack(s)


def rebuild(stack, path: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "netledger.cli", "--nats", stack.nats_url, "--prefix", stack.prefix,
           "projection", "rebuild", "--db", path]
    return subprocess.run(cmd, env=stack.env, capture_output=True, text=True, timeout=300)


def test_rebuild_equals_live_after_random_operations(own_stack):
    api = own_stack.api
    done = random_operations(api, random.Random(42), 1500)
    assert done > 1200
    fresh = os.path.join(own_stack.workdir, "rebuilt.db")
    result = rebuild(own_stack, fresh)
    assert result.returncode == 0, result.stderr
    live, rebuilt = dump(own_stack.db_path), dump(fresh)
    assert len(live["ports"]) > 100
    for table in TABLES:
        assert live[table] == rebuilt[table], f"table {table} differs after rebuild"


def test_restart_resumes_from_stored_position(own_stack):
    api = own_stack.api
    net = api.create("network", name="resume")
    api.create("subnet", network_id=net["id"], cidr="10.44.0.0/24", ip_version=4)
    own_stack.stop("topology")
    before = dump(own_stack.db_path)["checkpoint"]
    # Writes while the projection is down are committed (the API answers 503 because
    # it cannot show them yet) and must appear once topology is back.
    status, body = api.post("/v2.0/ports", {"port": {"network_id": net["id"], "name": "while-down"}})
    assert status == 503, body
    own_stack.spawn("topology", ["topology"])
    log = os.path.join(own_stack.workdir, "topology.log")
    for _ in range(100):
        status, body = api.get("/v2.0/ports?name=while-down")
        if body["ports"]:
            break
        time.sleep(0.1)
    assert len(body["ports"]) == 1
    # The restarted consumer started right after the stored position: nothing refolded.
    events_pos = dict(before)["events"]
    lines = [line for line in open(log) if '"folding"' in line and '_EVENTS"' in line]
    assert any(f'"position": {events_pos}' in line for line in lines), lines[-2:]
