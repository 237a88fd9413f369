"""The DHCP worker loop: KV watch -> work queue -> reconcile one network -> status events.

Level-triggered, one key per network: a KV change (or the periodic resync) only
queues the network id; ``reconcile`` reads the desired intent from the cache, observes
the host, plans, applies, and reports the dhcp provisioning block ACTIVE for each port
whose host entry dnsmasq has loaded (once per port revision). Planning is never done
against a partial cache: the loop starts after the watch replayed every current key.
Failures retry that network with backoff.
"""

from __future__ import annotations

import asyncio
import uuid

import msgspec
import structlog

from netledger.libs.worker_runtime import apply_entry, every
from netledger.libs.bus import Bus
from netledger.libs.events.dhcp import AGENT_TYPE, DhcpNetwork
from netledger.libs.events.envelope import utc_now, wrap
from netledger.libs.events.status import AgentHeartbeat, PortStatusReported
from netledger.libs.events.subjects import host_token
from netledger.services.l2.workqueue import WorkQueue, backoff

from . import plan as P
from .config import DhcpAgentConfig
from .driver_host import HostDriver

log = structlog.get_logger("dhcp.worker")
BINARY = "netledger-dhcp-agent"
_decode = msgspec.json.Decoder(DhcpNetwork).decode


def agent_id(host: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"netledger:{host}:{BINARY}"))


class DhcpWorker:
    def __init__(self, bus: Bus, bucket: str, cfg: DhcpAgentConfig, driver: HostDriver | None = None) -> None:
        self.bus, self.bucket, self.cfg = bus, bucket, cfg
        self.driver = driver or HostDriver(cfg)
        self.token = host_token(cfg.host)
        self.queue = WorkQueue()
        self.intents: dict[str, DhcpNetwork] = {}          # network id -> intent
        self.reported: dict[str, int] = {}                 # "<net>/<port>" -> revision reported ACTIVE
        self.replayed = asyncio.Event()
        self.synced = asyncio.Event()
        self.started_at = utc_now()
        self.log = log.bind(host=cfg.host)

    async def run(self, stop: asyncio.Event) -> None:
        kv = await self.bus.js.key_value(self.bucket)
        watcher = await kv.watch(f"{self.token}.net.>")
        tasks = [asyncio.create_task(c) for c in (
            self._watch(watcher), self._loop(), self._every(self.cfg.resync_interval, self._resync),
            self._every(self.cfg.heartbeat_interval, self._heartbeat))]
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await watcher.stop()
            self.log.info("dhcp worker stopped", writes=self.driver.writes)

    # --- inputs
    async def _watch(self, watcher) -> None:
        async for entry in watcher:
            if entry is None:                    # end of the replay of current values
                for net in await asyncio.to_thread(self.driver.networks_present) | set(self.intents):
                    self.queue.add(net)
                self.replayed.set()
                continue
            net = apply_entry(self.intents, entry, _decode, self.log)
            if self.replayed.is_set():
                self.queue.add(net)

    async def _resync(self) -> None:
        if self.synced.is_set():
            for net in await asyncio.to_thread(self.driver.networks_present) | set(self.intents):
                self.queue.add(net)

    async def _every(self, interval: float, fn) -> None:
        await every(interval, fn, self.log)

    # --- the loop
    async def _loop(self) -> None:
        await self.replayed.wait()
        while True:
            keys = await self.queue.get_batch()
            failed = []
            for net in keys:
                structlog.contextvars.bind_contextvars(key=net)
                try:
                    await self.reconcile(net)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - retry this network with backoff
                    failed.append(net)
                    self.log.warning("reconcile failed", network_id=net, error=repr(exc),
                                     retry_in=backoff(self.queue.failures(net) + 1))
                finally:
                    structlog.contextvars.unbind_contextvars("key")
            self.queue.done([k for k in keys if k not in failed], ok=True)
            self.queue.done(failed, ok=False)
            if not self.synced.is_set() and not failed:
                self.synced.set()
                self.log.info("initial sync done", networks=len(self.intents), writes=self.driver.writes)

    async def reconcile(self, net_id: str) -> list[P.Op]:
        desired = self.intents.get(net_id)
        lay = self.cfg.layout(net_id, desired.port.port_id if desired else "")
        observed = await asyncio.to_thread(self.driver.observe, lay)
        ops = P.plan_network(desired, lay, observed)
        if ops:
            self.log.info("plan", network_id=net_id, n=len(ops),
                          ops=[type(o).__name__ if isinstance(o, P.WriteFile) else msgspec.to_builtins(o) for o in ops])
            await asyncio.to_thread(self.driver.apply, ops, net_id)
            observed = P.after(desired, lay, observed, ops)
        if desired is not None:
            await self._report(desired, P.loaded_ports(desired, lay, observed))
        else:                                   # served again later: report afresh
            self.reported = {k: v for k, v in self.reported.items() if not k.startswith(net_id + "/")}
        return ops

    async def _report(self, net: DhcpNetwork, loaded: set[str]) -> None:
        """Once per (port, revision); a port that leaves and comes back is reported again."""
        revs = {f"{net.network_id}/{h.port_id}": h.revision_number for h in net.hosts if h.port_id in loaded}
        for key in [k for k in self.reported if k.startswith(net.network_id + "/") and k not in revs]:
            del self.reported[key]
        todo = {k: r for k, r in revs.items() if self.reported.get(k) != r}
        await asyncio.gather(*(self._publish_status(k.split("/", 1)[1], r) for k, r in sorted(todo.items())))
        self.reported.update(todo)

    async def _publish_status(self, port_id: str, revision: int) -> None:
        ev = PortStatusReported(port_id=port_id, host=self.cfg.host, status="ACTIVE", block="dhcp",
                                revision_number=revision)
        await self.bus.publish(self.bus.subjects.status("port", port_id), wrap(ev, kind="port", aggregate_id=port_id))

    async def _heartbeat(self) -> None:
        aid = agent_id(self.cfg.host)
        ev = AgentHeartbeat(agent_id=aid, host=self.cfg.host, agent_type=AGENT_TYPE, binary=BINARY,
                            backend="dnsmasq", started_at=self.started_at, interval=self.cfg.heartbeat_interval)
        await self.bus.publish(self.bus.subjects.status("agent", aid), wrap(ev, kind="agent", aggregate_id=aid))
