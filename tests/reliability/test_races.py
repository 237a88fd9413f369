"""16 clients racing for scarce values through two API processes: no duplicate ever,
every loser gets a clean 409/503 (never a 500), nothing half-applied."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support import Client

pytestmark = pytest.mark.reliability


def race(clients: list[Client], calls: int, fn) -> list[tuple[int, dict]]:
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(lambda i: fn(clients[i % len(clients)], i), range(calls)))


def test_last_addresses_of_a_small_subnet(small_stack):
    apis = [Client(u) for u in small_stack.api_urls]
    net = apis[0].create("network", name="scarce")
    # 10.9.0.0/29 with the default gateway leaves 5 addresses (.2 - .6).
    apis[0].create("subnet", network_id=net["id"], cidr="10.9.0.0/29", ip_version=4)
    results = race(apis, 48, lambda c, i: c.post("/v2.0/ports", {"port": {"network_id": net["id"], "name": f"r{i}"}}))
    codes = sorted(code for code, _ in results)
    assert set(codes) <= {201, 409}, codes
    won = [body["port"] for code, body in results if code == 201]
    assert len(won) == 5
    ips = [p["fixed_ips"][0]["ip_address"] for p in won]
    assert len(set(ips)) == 5
    losers = [body for code, body in results if code == 409]
    assert all(b["NeutronError"]["type"] in ("IpAddressGenerationFailure", "Conflict") for b in losers), losers[:3]
    listed = apis[1].get(f"/v2.0/ports?network_id={net['id']}")[1]["ports"]
    assert sorted(p["id"] for p in listed) == sorted(p["id"] for p in won)


def test_same_requested_address(small_stack):
    apis = [Client(u) for u in small_stack.api_urls]
    net = apis[0].create("network", name="same-ip")
    subnet = apis[0].create("subnet", network_id=net["id"], cidr="10.8.0.0/24", ip_version=4)
    body = {"port": {"network_id": net["id"], "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": "10.8.0.50"}]}}
    results = race(apis, 16, lambda c, i: c.post("/v2.0/ports", body))
    codes = [code for code, _ in results]
    assert codes.count(201) == 1 and set(codes) == {201, 409}, codes


def test_segmentation_ids_from_a_small_range(vni_stack):
    apis = [Client(u) for u in vni_stack.api_urls]
    results = race(apis, 24, lambda c, i: c.post("/v2.0/networks", {"network": {"name": f"seg{i}"}}))
    codes = [code for code, _ in results]
    assert set(codes) <= {201, 503}, codes
    won = [b["network"] for code, b in results if code == 201]
    seg_ids = [n["provider:segmentation_id"] for n in won]
    assert len(seg_ids) == len(set(seg_ids)) and set(seg_ids) <= set(range(100, 105))
    assert len(won) == 5 and codes.count(503) == 19
    assert all(b["NeutronError"]["type"] == "NoNetworkAvailable" for c, b in results if c == 503)
    # Deleting one frees its id for the next create.
    assert apis[0].delete(f"/v2.0/networks/{won[0]['id']}")[0] == 204
    again = apis[1].create("network", name="reuse")
    assert again["provider:segmentation_id"] == won[0]["provider:segmentation_id"]


def test_idempotency_key_acts_once(small_stack):
    api = Client(small_stack.api_urls[0])
    net = api.create("network", name="idem")
    api.create("subnet", network_id=net["id"], cidr="10.7.0.0/24", ip_version=4)
    key = {"X-Idempotency-Key": str(uuid.uuid4())}
    body = {"port": {"network_id": net["id"], "name": "once"}}
    first = api.post("/v2.0/ports", body, headers=key)
    second = Client(small_stack.api_urls[1]).post("/v2.0/ports", body, headers=key)
    assert first[0] == 201 and second[0] == 201
    assert first[1]["port"]["id"] == second[1]["port"]["id"]
    assert len(api.get(f"/v2.0/ports?network_id={net['id']}")[1]["ports"]) == 1


def test_garbage_on_event_subjects_is_parked(small_stack):
    """A message no consumer can read goes to the dead-letter stream with a reason."""
    script = f"""
import asyncio, nats
async def main():
    nc = await nats.connect({small_stack.nats_url!r})
    js = nc.jetstream()
    await js.publish("{small_stack.prefix}.evt.port.garbage", b"this is not an event")
    await js.publish("{small_stack.prefix}.evt.port.future", b'{{"id":"x","kind":"port","aggregate_id":"y","time":"t","event":{{"type":"PortTeleported.v9"}}}}')
    await nc.close()
asyncio.run(main())
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    api = Client(small_stack.api_urls[0])
    net = api.create("network", name="after-garbage")   # the projection kept going
    assert api.get(f"/v2.0/networks/{net['id']}")[0] == 200
    dlq = subprocess.run(
        [sys.executable, "-m", "netledger.cli", "--nats", small_stack.nats_url, "--prefix", small_stack.prefix,
         "events", "tail", "--stream", "dlq", "--since", "1", "--no-follow"],
        capture_output=True, text=True, timeout=60, env=small_stack.env)
    lines = [json.loads(line) for line in dlq.stdout.splitlines() if line.strip()]
    assert len(lines) == 2, dlq.stdout + dlq.stderr
