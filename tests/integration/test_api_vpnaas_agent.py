"""The VPN agent in GET /v2.0/agents: a real VpnWorker heartbeats over the session's
nats-server into the real topology and API. No dataplane: the worker's host has no
VPN intents and an empty private state directory, so it never touches a namespace."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from urllib.parse import quote

from netledger.libs.bus import connect, ensure_streams
from netledger.libs.events.subjects import Subjects
from netledger.services.advanced.vpn.config import VpnConfig
from netledger.services.advanced.vpn.worker import AGENT_TYPE, BINARY, VpnWorker, agent_id
from netledger.services.topology.compile_vpn import vpn_bucket


async def listed(api, host: str) -> list[dict]:
    status, body = await asyncio.to_thread(api.get, f"/v2.0/agents?host={quote(host)}&agent_type={quote(AGENT_TYPE)}")
    assert status == 200, body
    return body["agents"]


async def test_vpn_agent_heartbeats(stack):
    host = f"vpn-{uuid.uuid4().hex[:6]}.example"
    state = tempfile.mkdtemp(prefix="nl-it-vpn-")
    bus = await connect(stack.nats_url, name="vpn-it", subjects=Subjects(stack.prefix))
    stop = asyncio.Event()
    task = None
    try:
        await ensure_streams(bus)
        cfg = VpnConfig(host=host, state_dir=state, heartbeat_interval=0.5, status_interval=1.0, resync_interval=2.0)
        task = asyncio.create_task(VpnWorker(bus, vpn_bucket(stack.prefix), cfg).run(stop))
        deadline = time.monotonic() + 30          # generous: shared machines
        while not (agents := await listed(stack.api, host)):
            assert time.monotonic() < deadline, "VPN agent never showed in /v2.0/agents"
            assert not task.done(), task
            await asyncio.sleep(0.2)
        (agent,) = agents
        assert agent["id"] == agent_id(host) and agent["binary"] == BINARY and agent["alive"] is True
        assert agent["agent_type"] == "VPN agent" and agent["configurations"]["backend"] == "strongswan-libipsec"
    finally:
        stop.set()
        if task is not None:
            await asyncio.wait_for(task, 15)
        await bus.nc.drain()
        shutil.rmtree(state, ignore_errors=True)
