"""The ``openvswitch`` mechanism: glue between the generic worker and the OVS modules."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from netledger.services.l2.config import AgentConfig
from netledger.services.l2.desired import HostDesired, PortState
from netledger.services.l2.ovs import ops as O
from netledger.services.l2.ovs.driver_ovs import OvsDriver
from netledger.services.l2.ovs.model import OvsObserved
from netledger.services.l2.ovs.plan import plan
from netledger.services.l2.ovs.sim import simulate
from netledger.services.l2.ovs.status import port_states


class OvsMechanism:
    name = "openvswitch"
    agent_type = "Open vSwitch agent"

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.driver = OvsDriver(cfg)

    @property
    def writes(self) -> int:
        return self.driver.writes

    async def start(self, on_port: Callable[[str], None]) -> None:
        """``on_port(port_id)`` is called on the event loop when an instance port changes."""
        loop = asyncio.get_running_loop()
        await self.driver.start(lambda pid: loop.call_soon_threadsafe(on_port, pid))

    async def stop(self) -> None:
        await self.driver.stop()

    async def observe(self, last: OvsObserved | None = None) -> OvsObserved:
        return await self.driver.observe(last)

    def plan(self, desired: HostDesired, observed: OvsObserved) -> list[O.Op]:
        return plan(desired, observed, self.cfg)

    async def apply(self, ops: list[O.Op]) -> None:
        await self.driver.apply(ops)

    def after(self, observed: OvsObserved, ops: list[O.Op]) -> OvsObserved:
        return simulate(observed, ops)

    def port_states(self, desired: HostDesired, observed: OvsObserved) -> dict[str, PortState]:
        return port_states(desired, observed, self.cfg)


def create(cfg: AgentConfig) -> OvsMechanism:
    return OvsMechanism(cfg)
