"""The ``linuxbridge`` mechanism: glue between the generic worker and the Linux bridge modules."""

from __future__ import annotations

from collections.abc import Callable

from netledger.services.l2.config import AgentConfig
from netledger.services.l2.desired import HostDesired, PortState
from netledger.services.l2.linuxbridge import ops as O
from netledger.services.l2.linuxbridge.driver_linuxbridge import LinuxBridgeDriver
from netledger.services.l2.linuxbridge.model import BridgeObserved
from netledger.services.l2.linuxbridge.plan import plan
from netledger.services.l2.linuxbridge.sim import simulate
from netledger.services.l2.linuxbridge.status import port_states


class LinuxBridgeMechanism:
    name = "linuxbridge"
    agent_type = "Linux bridge agent"

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.driver = LinuxBridgeDriver(cfg.netns)

    @property
    def writes(self) -> int:
        return self.driver.writes

    async def start(self, on_port: Callable[[str], None]) -> None:
        """``on_port(key)`` runs on the event loop when an instance tap changes."""
        await self.driver.start(on_port)

    async def stop(self) -> None:
        await self.driver.stop()

    async def observe(self, last: BridgeObserved | None = None) -> BridgeObserved:
        return await self.driver.observe()      # one netlink dump + one nft list: always fresh

    def plan(self, desired: HostDesired, observed: BridgeObserved) -> list[O.Op]:
        return plan(desired, observed, self.cfg)

    async def apply(self, ops: list[O.Op]) -> None:
        await self.driver.apply(ops)

    def after(self, observed: BridgeObserved, ops: list[O.Op]) -> BridgeObserved:
        return simulate(observed, ops)

    def port_states(self, desired: HostDesired, observed: BridgeObserved) -> dict[str, PortState]:
        return port_states(desired, observed, self.cfg)


def create(cfg: AgentConfig) -> LinuxBridgeMechanism:
    return LinuxBridgeMechanism(cfg)
