"""netledger.v1 resource services: each call is the equivalent REST request, run in-process.

No second write path: Create/Get/List/Update/Delete build the Neutron request (method,
path, JSON body, the caller's auth headers from metadata) and hand it to the API
app's own handler chain (services.api.app.dispatch); the HTTP status and Neutron error
body come back as a gRPC status, with the body in trailing metadata ``neutron-error``.
"""

from __future__ import annotations

import json

import grpc
import structlog

from . import convert
from .gen import netledger_v1_pb2 as pb

log = structlog.get_logger("grpc")


class Caller:
    """Runs REST requests for gRPC calls and aborts them with Neutron's error mapped."""

    def __init__(self, app) -> None:
        self.app = app

    async def call(self, context, method: str, path: str, body=None, *, extra: dict | None = None):
        from netledger.services.api.app import dispatch

        headers = convert.headers_from_metadata(context.invocation_metadata())
        headers.update(extra or {})
        status, payload, ctx = await dispatch(self.app, method, path, body=body, headers=headers)
        if status >= 400:
            error_type, message = convert.error_of(payload)
            context.set_trailing_metadata((("neutron-error", json.dumps(payload or {})),
                                           ("neutron-status", str(status))))
            await context.abort(convert.status_code(status, error_type, method), message or f"HTTP {status}")
        return payload, ctx


class CollectionServicer:
    """Create/Get/List/Update/Delete of one Neutron collection."""

    def __init__(self, caller: Caller, collection: str, member: str) -> None:
        self.caller = caller
        self.collection = collection
        self.member = member

    def _resource(self, payload) -> pb.Resource:
        return pb.Resource(body=convert.to_struct(payload[self.member]))

    async def Create(self, request, context):
        body = {self.member: convert.from_struct(request.body)}
        payload, _ = await self.caller.call(context, "POST", f"/v2.0/{self.collection}", body)
        return self._resource(payload)

    async def Get(self, request, context):
        path = convert.member_path(self.collection, request.id)
        payload, _ = await self.caller.call(context, "GET", path + convert.query_string(
            [("fields", f) for f in request.fields]))
        return self._resource(payload)

    async def List(self, request, context):
        path = f"/v2.0/{self.collection}" + convert.query_string([(q.name, q.value) for q in request.query])
        payload, _ = await self.caller.call(context, "GET", path)
        key = self.collection.replace("-", "_")
        return pb.ResourceList(items=[convert.to_struct(item) for item in payload[key]])

    async def Update(self, request, context):
        body = {self.member: convert.from_struct(request.body)}
        extra = {"If-Match": request.if_match} if request.if_match else None
        payload, _ = await self.caller.call(context, "PUT", convert.member_path(self.collection, request.id),
                                            body, extra=extra)
        return self._resource(payload)

    async def Delete(self, request, context):
        extra = {"If-Match": request.if_match} if request.if_match else None
        await self.caller.call(context, "DELETE", convert.member_path(self.collection, request.id), extra=extra)
        return pb.DeleteResponse()
