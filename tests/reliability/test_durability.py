"""Durability as documented: the server fsyncs before it acknowledges (sync_always), and
every acknowledged publish survives kill -9 of nats-server."""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import urllib.request

import nats
import pytest

from netledger.deploy import nats as nats_deploy
from netledger.deploy.streams import streams
from netledger.libs.events.subjects import Subjects
from tests.support import free_port

pytestmark = pytest.mark.reliability


def test_server_reports_sync_always():
    work = tempfile.mkdtemp(prefix="nl-dur-")
    http = free_port()
    proc = nats_deploy.start(workdir=work, port=free_port(), http_port=http)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/varz", timeout=5) as resp:
            varz = json.load(resp)
        assert varz["jetstream"]["config"].get("sync_always") is True, varz["jetstream"]["config"]
    finally:
        proc.kill()
        proc.wait()


def test_stream_definitions_are_durable():
    for sdef in streams(Subjects("nl")):
        cfg = sdef.config()
        assert cfg["storage"] == "file" and cfg["duplicate_window"] >= 60 * 10**9


async def _round(url: str, subject: str, kill_after: float, proc_holder: dict, args: dict) -> tuple[int, int]:
    nc = await nats.connect(url, max_reconnect_attempts=0)
    acked: dict[int, bytes] = {}

    async def writer(k: int) -> None:
        i = 0
        while True:
            data = f"{subject}.{k}.{i}".encode()
            try:
                reply = await nc.request(f"{subject}.{k}", data, timeout=1)
            except Exception:
                return
            ack = json.loads(reply.data)
            if "seq" in ack and not ack.get("error"):
                acked[ack["seq"]] = data
            i += 1

    tasks = [asyncio.create_task(writer(k)) for k in range(8)]
    await asyncio.sleep(kill_after)
    proc_holder["proc"].kill()
    proc_holder["proc"].wait()
    await asyncio.gather(*tasks, return_exceptions=True)
    try:
        await nc.close()
    except Exception:
        pass
    proc_holder["proc"] = nats_deploy.start(**args)
    nc = await nats.connect(url)
    lost = 0
    for seq, data in acked.items():
        reply = await nc.request("$JS.API.DIRECT.GET.DUR", json.dumps({"seq": seq}).encode(), timeout=5)
        lost += reply.data != data
    await nc.close()
    return len(acked), lost


def test_acknowledged_writes_survive_kill_9():
    work = tempfile.mkdtemp(prefix="nl-dur-")
    args = dict(workdir=os.path.join(work, "nats"), port=free_port())
    holder = {"proc": nats_deploy.start(**args)}
    url = f"nats://127.0.0.1:{args['port']}"

    async def main() -> tuple[int, int]:
        nc = await nats.connect(url)
        cfg = {"name": "DUR", "subjects": ["dur.>"], "storage": "file", "allow_direct": True}
        await nc.request("$JS.API.STREAM.CREATE.DUR", json.dumps(cfg).encode())
        await nc.close()
        total = lost = 0
        rng = random.Random(1)
        for r in range(4):
            a, lo = await _round(url, f"dur.r{r}", rng.uniform(0.2, 0.6), holder, args)
            total, lost = total + a, lost + lo
        return total, lost

    try:
        total, lost = asyncio.run(main())
    finally:
        holder["proc"].kill()
        holder["proc"].wait()
    assert total > 100 and lost == 0, (total, lost)
    print(f"durability: {total} acknowledged publishes across 4 kill -9 of nats-server, {lost} lost")
