"""The API process's other interfaces: gRPC, commands on NATS, the Nova notifier.

Each one reaches the deciders only through the API app (services.api.app.dispatch) or,
for the notifier, reads the event streams: there is no second write path.
"""

from __future__ import annotations

import structlog

log = structlog.get_logger("interfaces")


class Interfaces:
    def __init__(self) -> None:
        self.grpc = None
        self.commands = None
        self.nova = None

    async def stop(self) -> None:
        if self.grpc:
            await self.grpc.stop(grace=1)
            await self.grpc.netledger_hub.stop()
        if self.commands:
            await self.commands.stop()
        if self.nova:
            await self.nova.stop()


async def start(cfg, app, svc) -> Interfaces:
    out = Interfaces()
    if cfg.grpc_port:
        from netledger.services.grpc_api import server

        out.grpc = await server.start(cfg, app, svc)
    if cfg.bus_commands:
        from netledger.services.natscmd.serve import Commands

        out.commands = Commands(app, svc.bus)
        await out.commands.start()
    if cfg.nova_url:
        from netledger.services.nova.notifier import NovaNotifier

        out.nova = NovaNotifier(cfg, svc.bus)
        await out.nova.start()
    return out
