"""``Events.Watch``: the events stream from any sequence, then live, as a gRPC stream.

History comes from an ordered consumer of the watch's own, starting after
``from_seq``; live events from the process's :class:`~.hub.Hub`, handed over by
stream sequence: the client resumes with the last seq it saw and gets each later
event exactly once, in stream order. The caller is authenticated by the REST path
itself (a one-item list); a non-admin only ever sees its own project.
"""

from __future__ import annotations

import grpc
import structlog

from . import convert
from .changes import WatchFilter, change_fields
from .gen import netledger_v1_pb2 as pb
from .hub import Overflow

log = structlog.get_logger("grpc.watch")


def _change(item, owner: str) -> bytes:
    """The serialised Change, built once per event and owner and shared by every
    stream that delivers it (the Watch handler's serializer passes bytes through)."""
    change = item.built.get(owner)
    if change is None:
        fields = change_fields(item.env, item.seq, owner)
        fields["event"] = convert.to_struct(fields["event"])
        change = item.built[owner] = pb.Change(**fields).SerializeToString()
    return change


class EventsServicer:
    def __init__(self, caller, hub) -> None:
        self.caller = caller
        self.hub = hub

    async def Watch(self, request, context):
        _, ctx = await self.caller.call(context, "GET", "/v2.0/networks?limit=1&fields=id")
        project = request.project
        if ctx is not None and not ctx.is_admin:
            if project and project != ctx.project_id:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, "Watching another project needs admin")
            project = ctx.project_id
        filt = WatchFilter(kinds=frozenset(request.kinds), project=project)
        queue, handover = self.hub.register()
        log.info("watch started", from_seq=request.from_seq, handover=handover, kinds=sorted(filt.kinds),
                 project=project)
        try:
            async for item in self.hub.history(int(request.from_seq), handover):
                ok, owner = filt.admits(item.env)
                if ok:
                    yield _change(item, owner)
            while True:
                item = await queue.get()
                if isinstance(item, Overflow):
                    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                        "Watch fell too far behind: reconnect with the last seq")
                if item.seq <= request.from_seq:
                    continue
                ok, owner = filt.admits(item.env)
                if ok:
                    yield _change(item, owner)
        finally:
            self.hub.unregister(queue)
