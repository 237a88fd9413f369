"""``Events.Watch``: the events stream from any sequence, then live, as a gRPC stream.

An ordered push consumer (ephemeral, flow-controlled, self-healing on gaps) on
``<prefix>.evt.>`` starting after ``from_seq``: the client resumes with the last seq
it saw and gets each later event exactly once, in stream order. The caller is
authenticated by the REST path itself (a one-item list); a non-admin only ever sees
its own project.
"""

from __future__ import annotations

import grpc
import structlog
from nats.js.api import ConsumerConfig, DeliverPolicy

from netledger.libs.events import codec

from . import convert
from .changes import WatchFilter, change_fields
from .gen import netledger_v1_pb2 as pb

log = structlog.get_logger("grpc.watch")


class EventsServicer:
    def __init__(self, caller, bus) -> None:
        self.caller = caller
        self.bus = bus

    async def Watch(self, request, context):
        _, ctx = await self.caller.call(context, "GET", "/v2.0/networks?limit=1&fields=id")
        project = request.project
        if ctx is not None and not ctx.is_admin:
            if project and project != ctx.project_id:
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, "Watching another project needs admin")
            project = ctx.project_id
        filt = WatchFilter(kinds=frozenset(request.kinds), project=project)
        start = int(request.from_seq) + 1
        config = (ConsumerConfig(deliver_policy=DeliverPolicy.ALL) if start <= 1 else
                  ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start))
        sub = await self.bus.js.subscribe(f"{self.bus.subjects.prefix}.evt.>", ordered_consumer=True,
                                          config=config, pending_msgs_limit=-1, pending_bytes_limit=-1)
        log.info("watch started", from_seq=request.from_seq, kinds=sorted(filt.kinds), project=project)
        try:
            async for msg in sub.messages:
                seq = msg.metadata.sequence.stream
                try:
                    env = codec.decode(msg.data)
                except Exception as exc:  # an undecodable event is skipped, never fatal
                    log.warning("watch skipped undecodable event", seq=seq, error=repr(exc))
                    continue
                ok, owner = filt.admits(env)
                if ok:
                    fields = change_fields(env, seq, owner)
                    fields["event"] = convert.to_struct(fields["event"])
                    yield pb.Change(**fields)
        finally:
            await sub.unsubscribe()
