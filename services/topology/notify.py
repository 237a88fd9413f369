"""After-commit hooks of the live projection: L2 intents and "vif plugged" notifications.

Orchestrators (what Nova's external-events are to Neutron) subscribe to
``<prefix>.notify.vif.<port_id>`` (or ``<prefix>.notify.vif.>``) on core NATS and get
``{"port_id", "device_id", "status", "host"}`` whenever a port's status changes, instead
of polling the API.
"""

from __future__ import annotations

import asyncio
import json

import msgspec
import structlog

from netledger.optional import import_optional

from .compile_dhcp import DhcpIntentPublisher
from .intents import IntentPublisher
from .port_bodies import PortBodies
from .schedule_l3 import L3Hooks

log = structlog.get_logger("topology.notify")


class AfterCommit:
    def __init__(self, bus, conn, *, publish_intents: bool = True) -> None:
        self.bus = bus
        self.conn = conn
        ports = PortBodies(conn)   # decoded once, shared by the L2, SG and DHCP publishers
        self.intents = IntentPublisher(bus, conn, ports) if publish_intents else None
        self.dhcp = DhcpIntentPublisher(bus, conn, ports) if publish_intents else None
        self.l3 = L3Hooks(bus, conn) if publish_intents else None   # router scheduling + L3 intents
        vpn = import_optional("netledger.services.topology.compile_vpn")   # VPNaaS intents (NL_VPN)
        self.vpn = vpn.VpnIntentPublisher(bus, conn) if vpn and publish_intents else None
        lb = import_optional("netledger.services.topology.schedule_lb")   # Octavia: scheduling + NL_LB intents
        self.lb = lb.LbHooks(bus, conn) if lb and publish_intents else None
        self.last_status: dict[str, str] = {}
        self.lock = asyncio.Lock()

    async def start(self) -> None:
        if self.intents:
            await self.intents.start()
            await self.dhcp.start()
            await self.l3.start(self.lock)
            if self.vpn:
                await self.vpn.start()
            if self.lb:
                await self.lb.start(self.lock)

    async def __call__(self, touched_networks: set[str], reported_ports: set[str]) -> None:
        async with self.lock:
            if self.intents:
                await self.intents.sync(touched_networks)
                await self.dhcp.sync(touched_networks)
                await self.l3.after_commit(touched_networks)
                if self.vpn:
                    await self.vpn.sync()
                if self.lb:
                    await self.lb.after_commit()
            for port_id in sorted(reported_ports):
                await self._notify(port_id)

    async def _notify(self, port_id: str) -> None:
        row = self.conn.execute("SELECT body FROM ports_v WHERE id = ?", [port_id]).fetchone()
        if row is None:
            return
        body = msgspec.json.decode(row[0])
        if self.last_status.get(port_id) == body["status"]:
            return
        self.last_status[port_id] = body["status"]
        note = {"port_id": port_id, "device_id": body.get("device_id", ""), "status": body["status"],
                "host": body.get("binding:host_id", "")}
        await self.bus.nc.publish(self.bus.subjects.vif_notify(port_id), json.dumps(note).encode())
        log.info("vif status", port_id=port_id, status=body["status"])
