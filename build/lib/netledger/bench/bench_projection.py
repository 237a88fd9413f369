"""Projection fold rate: publish N realistic events straight to JetStream, then time
``projection rebuild`` folding them into a fresh SQLite database."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
import uuid

from netledger.config import Config
from netledger.deploy import nats as nats_deploy
from netledger.libs import bus as busmod
from netledger.libs.events import codec
from netledger.libs.events.claims import IpClaimed, MacClaimed
from netledger.libs.events.envelope import wrap
from netledger.libs.events.network import NetworkCreated, Segment
from netledger.libs.events.port import FixedIp, PortCreated, PortUpdated
from netledger.libs.events.subjects import Subjects
from netledger.libs.events.subnet import Pool, SubnetCreated
from netledger.services.topology.service import rebuild

from .harness import free_port


def events(n: int):
    """(subject, envelope) pairs: per network 1 network + 1 subnet, then per port
    a MAC claim, an IP claim, the port and an update."""
    s = Subjects("nl")
    produced = 0
    while produced < n:
        net, sub = str(uuid.uuid4()), str(uuid.uuid4())
        yield s.network(net), wrap(NetworkCreated(network_id=net, project_id="p", name="n",
                                                  segments=(Segment(network_type="vxlan", segmentation_id=7),)),
                                   kind="network", aggregate_id=net)
        yield s.subnet(net, sub), wrap(SubnetCreated(subnet_id=sub, network_id=net, project_id="p",
                                                     cidr="10.0.0.0/16", ip_version=4, gateway_ip="10.0.0.1",
                                                     allocation_pools=(Pool(start="10.0.0.2", end="10.0.255.254"),)),
                                       kind="subnet", aggregate_id=sub)
        produced += 2
        for i in range(200):
            port, ip, mac = str(uuid.uuid4()), f"10.0.{i // 250}.{i % 250 + 2}", f"fa:16:3e:00:{i // 256:02x}:{i % 256:02x}"
            yield s.claim_mac(net, mac), wrap(MacClaimed(network_id=net, mac_address=mac, owner=port),
                                              kind="claim", aggregate_id=port)
            yield s.claim_ip(sub, ip), wrap(IpClaimed(subnet_id=sub, ip_address=ip, owner=port),
                                            kind="claim", aggregate_id=port)
            yield s.aggregate("port", port), wrap(PortCreated(
                port_id=port, network_id=net, project_id="p", mac_address=mac,
                fixed_ips=(FixedIp(subnet_id=sub, ip_address=ip),)), kind="port", aggregate_id=port)
            yield s.aggregate("port", port), wrap(PortUpdated(port_id=port, name="x"), kind="port", aggregate_id=port)
            produced += 4
            if produced >= n:
                return


async def publish_all(url: str, n: int) -> float:
    bus = await busmod.connect(url, name="bench-publisher")
    await busmod.ensure_streams(bus)
    start = time.perf_counter()
    pending = []
    for subject, env in events(n):
        pending.append(await bus.js.publish_async(subject, codec.encode(env)))
        if len(pending) >= 2000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    elapsed = time.perf_counter() - start
    await bus.nc.close()
    return elapsed


def main(n: int = 100_000) -> dict:
    work = tempfile.mkdtemp(prefix="nl-bench-proj-")
    port = free_port()
    # Loading the stream is not what is measured: skip fsync for it.
    nats = nats_deploy.start(workdir=os.path.join(work, "nats"), port=port, sync_always=False)
    try:
        url = f"nats://127.0.0.1:{port}"
        pub_s = asyncio.run(publish_all(url, n))
        cfg = Config(nats_url=url)
        figures = asyncio.run(rebuild(cfg, os.path.join(work, "rebuilt.db")))
        return {"events": n, "publish_s": round(pub_s, 1), **figures["events"]}
    finally:
        nats.terminate()
        nats.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    print(main())
