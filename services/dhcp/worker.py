"""The DHCP worker: its desired state (DhcpNetwork), its observation, its pure planner
and its driver, run by the shared intent runtime (libs/worker_runtime).

Level-triggered, one key per network: a KV change (or the periodic ``@full`` check)
only queues the network; ``reconcile`` reads the desired intent from the cache,
observes the host, plans, applies, and reports the dhcp provisioning block ACTIVE for
each port whose host entry dnsmasq has loaded (once per port revision). Planning is
never done against a partial cache: the loop starts after the watch replayed every
current key. A failed network retries alone, with backoff.
"""

from __future__ import annotations

import asyncio

import msgspec
import structlog

from netledger.libs.bus import Bus
from netledger.libs.events.dhcp import AGENT_TYPE, DhcpNetwork
from netledger.libs.events.envelope import wrap
from netledger.libs.events.status import PortStatusReported
from netledger.libs.worker_runtime import IntentRuntime, Identity

from . import plan as P
from .config import DhcpAgentConfig
from .driver_host import HostDriver

log = structlog.get_logger("dhcp.worker")
BINARY = "netledger-dhcp-agent"
IDENTITY = Identity(binary=BINARY, agent_type=AGENT_TYPE, backend="dnsmasq")
agent_id = IDENTITY.agent_id


class DhcpWorker:
    def __init__(self, bus: Bus, bucket: str, cfg: DhcpAgentConfig, driver: HostDriver | None = None) -> None:
        self.bus, self.cfg = bus, cfg
        self.driver = driver or HostDriver(cfg)
        self.reported: dict[str, int] = {}                 # "<net>/<port>" -> revision reported ACTIVE
        self.log = log.bind(host=cfg.host)
        self.rt = IntentRuntime.of(self, bus, bucket, cfg, kind="net", intent=DhcpNetwork, who=IDENTITY, log=self.log)
        self.rt.stats = lambda: {"writes": self.driver.writes}
        self.intents, self.queue, self.replayed, self.synced = (
            self.rt.intents, self.rt.queue, self.rt.replayed, self.rt.synced)

    async def run(self, stop: asyncio.Event) -> None:
        await self.rt.run(stop)

    # --- the Reconciler protocol
    async def host_view(self) -> None:
        return None                      # each network is observed on its own

    async def present(self, host: None) -> set[str]:
        return await asyncio.to_thread(self.driver.networks_present)

    async def failed(self, net_id: str, exc: Exception) -> None:
        return None                      # ports stay unreported (DOWN) until dnsmasq has them

    async def reconcile(self, net_id: str, host: None = None) -> list[P.Op]:
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
