"""Commands on the bus: NATS request/reply into the API app's own request path.

Any API replica answers (queue group per prefix). The reply is the REST response body
(the resource, or Neutron's error body; ``{}`` for a 204) with the HTTP status in the
``Neutron-Status`` header. Policy is the REST API's: a Keystone token in the
``X-Auth-Token`` header, or noauth's ``X-Project-Id``/``X-Roles``.
"""

from __future__ import annotations

import asyncio
import json

import structlog

from .route import BadCommand, headers_for, route

log = structlog.get_logger("natscmd")


def _error(status: int, message: str) -> dict:
    kind = {400: "HTTPBadRequest", 404: "HTTPNotFound"}.get(status, "HTTPInternalServerError")
    return {"NeutronError": {"type": kind, "message": message, "detail": ""}}


class Commands:
    def __init__(self, app, bus) -> None:
        self.app = app
        self.bus = bus
        self.sub = None
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        prefix = self.bus.subjects.prefix
        self.sub = await self.bus.nc.subscribe(f"{prefix}.cmd.>", queue=f"{prefix}.api.cmd", cb=self._on_msg)
        log.info("commands on the bus", subject=f"{prefix}.cmd.>")

    async def stop(self) -> None:
        if self.sub:
            await self.sub.unsubscribe()
        for task in list(self.tasks):
            task.cancel()

    async def _on_msg(self, msg) -> None:
        # Each command runs on its own: a slow write must not hold up the next message.
        task = asyncio.create_task(self._answer(msg))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, msg) -> None:
        from netledger.services.api.app import dispatch

        try:
            r = route(self.bus.subjects.prefix, msg.subject, msg.data)
            status, body, _ = await dispatch(self.app, r.method, r.path, body=r.body, headers=headers_for(msg.headers))
        except BadCommand as exc:
            status, body = exc.status, _error(exc.status, str(exc))
        except Exception:
            log.exception("command failed", subject=msg.subject)
            status, body = 500, _error(500, "Request Failed: internal server error while processing your request.")
        log.debug("command", subject=msg.subject, status=status)
        if msg.reply:
            await self.bus.nc.publish(msg.reply, json.dumps(body if body is not None else {}).encode(),
                                      headers={"Neutron-Status": str(status)})
