"""The one place that talks to NATS JetStream for every service.

Publishing is optimistic concurrency on subjects: ``expect_seq`` sets
``Nats-Expected-Last-Subject-Sequence`` (0 = the subject must be empty) and
``expect_subject`` lets the check apply to another, possibly wildcard, subject.
A lost race surfaces as :class:`WrongLastSequence` carrying the current sequence,
so the caller can reload and decide again. ``msg_id`` is the idempotency key.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field

import nats
import structlog
from nats.aio.client import Client
from nats.js.api import ConsumerConfig
from nats.js.client import JetStreamContext
from nats.errors import NoRespondersError, TimeoutError as NatsTimeout

from netledger.deploy.nats_auth import load_credentials
from netledger.deploy.streams import kv_buckets, stream_names, streams
from netledger.libs.events import codec
from netledger.libs.events.envelope import Envelope
from netledger.libs.events.subjects import Subjects

log = structlog.get_logger("bus")


class PublishError(RuntimeError):
    """JetStream refused a publish for a reason other than a lost race."""


class WrongLastSequence(PublishError):
    def __init__(self, current: int, description: str) -> None:
        super().__init__(description)
        self.current = current


class BusUnavailable(PublishError):
    """No answer from JetStream (server down, no stream): retry later, 503."""


class _NamedConsumersJetStream(JetStreamContext):
    """Push/ordered consumers (KV watch) get a name, so nats.py puts the filter in the
    create subject (``$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>``): that is what
    lets nats-server permissions confine a worker host to its own intent keys."""

    async def subscribe(self, subject: str, *args, config: ConsumerConfig | None = None, **kwargs):
        if config is None and not kwargs.get("durable") and not kwargs.get("queue"):
            config = ConsumerConfig(name=self._nc._nuid.next().decode())
        return await super().subscribe(subject, *args, config=config, **kwargs)


@dataclass
class Bus:
    nc: Client
    subjects: Subjects
    # Called after every reconnect (e.g. pull consumers re-issue their pull requests,
    # which the server forgot if it restarted).
    on_reconnect: list = field(default_factory=list)

    @property
    def js(self):
        return _NamedConsumersJetStream(self.nc)

    @property
    def stream_names(self) -> dict[str, str]:
        return stream_names(self.subjects.prefix)

    async def publish(self, subject: str, env: Envelope, *, msg_id: str | None = None,
                      expect_seq: int | None = None, expect_subject: str | None = None,
                      timeout: float = 5.0) -> int:
        """Publish one event and return its stream sequence once it is durable."""
        headers = {}
        if msg_id:
            headers["Nats-Msg-Id"] = msg_id
        if expect_seq is not None:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(expect_seq)
            if expect_subject:
                headers["Nats-Expected-Last-Subject-Sequence-Subject"] = expect_subject
        data = codec.encode(env)
        try:
            reply = await self.nc.request(subject, data, headers=headers or None, timeout=timeout)
        except (NatsTimeout, NoRespondersError, asyncio.TimeoutError) as exc:
            raise BusUnavailable(f"no acknowledgement for {subject}: {exc!r}") from exc
        return _ack_seq(reply.data)

    async def publish_batch(self, items: list[tuple[str, Envelope, str, int | None, str | None]],
                            *, timeout: float = 10.0) -> int:
        """All-or-nothing publish (JetStream atomic batch): every message lands or none.

        ``items`` are (subject, envelope, msg_id, expect_seq, expect_subject). Returns the
        sequence of the last message. Slower than single publishes (one round trip per
        batch at the commit, but batches are serialised by the server), so it is used
        only where atomicity across aggregates is the point (bulk create).
        """
        import uuid as _uuid

        batch_id = _uuid.uuid4().hex
        for index, (subject, env, msg_id, expect_seq, expect_subject) in enumerate(items, 1):
            headers = {"Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(index)}
            if msg_id:
                headers["Nats-Msg-Id"] = msg_id
            if expect_seq is not None:
                headers["Nats-Expected-Last-Subject-Sequence"] = str(expect_seq)
                if expect_subject:
                    headers["Nats-Expected-Last-Subject-Sequence-Subject"] = expect_subject
            data = codec.encode(env)
            try:
                if index == len(items):
                    headers["Nats-Batch-Commit"] = "1"
                    reply = await self.nc.request(subject, data, headers=headers, timeout=timeout)
                    return _ack_seq(reply.data)
                if index == 1:
                    # The first message is acknowledged (empty reply) once the batch is open.
                    await self.nc.request(subject, data, headers=headers, timeout=timeout)
                else:
                    await self.nc.publish(subject, data, headers=headers)
            except (NatsTimeout, NoRespondersError, asyncio.TimeoutError) as exc:
                raise BusUnavailable(f"batch publish to {subject}: {exc!r}") from exc
        return 0

    async def publish_status(self, subject: str, env: Envelope) -> int:
        return await self.publish(subject, env)

    async def last_seq(self, subject: str) -> int:
        """Sequence of the last message on a subject, 0 if none (direct get)."""
        name = self.stream_names["events"]
        req = json.dumps({"last_by_subj": subject}).encode()
        try:
            reply = await self.nc.request(f"$JS.API.DIRECT.GET.{name}", req, timeout=5)
        except (NatsTimeout, NoRespondersError) as exc:
            raise BusUnavailable(str(exc)) from exc
        if reply.headers and reply.headers.get("Status") == "404":
            return 0
        return int((reply.headers or {}).get("Nats-Sequence", 0))


def _ack_seq(data: bytes) -> int:
    ack = json.loads(data)
    err = ack.get("error")
    if not err:
        return int(ack["seq"])
    desc = err.get("description", "")
    if err.get("err_code") == 10071:  # wrong last sequence: N
        current = int(desc.rsplit(":", 1)[-1].strip() or 0)
        raise WrongLastSequence(current, desc)
    if err.get("err_code") in (10076,):  # no stream / unavailable
        raise BusUnavailable(desc)
    raise PublishError(desc)


async def connect(url: str, *, name: str, subjects: Subjects | None = None,
                  user: str | None = None, password: str | None = None,
                  creds: str | None = None) -> Bus:
    """Connect with endless reconnects: a restarted server must not kill services.

    Credentials (config keys ``nats_user`` / ``nats_password`` / ``nats_creds``): a user
    and password, or a ``.creds`` file (JWT + NKEY seed, for operator/account setups);
    none of them for an open server. A URL may also carry ``nats://user:pw@host``.
    Without explicit ones, ``$NETLEDGER_NATS_CREDENTIALS`` names a file written by
    deploy/nats_auth.py (user, password and the inbox prefix the user may read): that
    is how worker processes, which read no config file, get their host's identity."""
    opts = dict(servers=url.split(","), name=name, max_reconnect_attempts=-1,
                reconnect_time_wait=0.25, connect_timeout=2)
    if not user and not creds and os.environ.get("NETLEDGER_NATS_CREDENTIALS"):
        found = load_credentials(os.environ["NETLEDGER_NATS_CREDENTIALS"])
        user, password = found["user"], found["password"]
        opts["inbox_prefix"] = found["inbox_prefix"] or "_INBOX"
    if user:
        opts.update(user=user, password=password)
    if creds:
        opts["user_credentials"] = creds
    holder: list[Bus] = []

    async def reconnected() -> None:
        log.info("nats reconnected", url=str(nc.connected_url.netloc if nc.connected_url else ""))
        for callback in list(holder[0].on_reconnect) if holder else []:
            try:
                await callback()
            except Exception as exc:  # one bad callback must not stop the others
                log.warning("reconnect callback failed", error=repr(exc))

    async def disconnected() -> None:
        log.warning("nats disconnected")

    nc = await nats.connect(**opts, reconnected_cb=reconnected, disconnected_cb=disconnected)
    bus = Bus(nc=nc, subjects=subjects or Subjects())
    holder.append(bus)
    return bus


async def ensure_streams(bus: Bus, *, replicas: int = 1) -> None:
    """Create or update the streams and KV buckets (idempotent; safe from many processes)."""
    for sdef in streams(bus.subjects, replicas=replicas):
        cfg = json.dumps(sdef.config()).encode()
        reply = await bus.nc.request(f"$JS.API.STREAM.CREATE.{sdef.name}", cfg, timeout=10)
        err = json.loads(reply.data).get("error")
        if err and err.get("err_code") == 10058:  # already exists with another config
            reply = await bus.nc.request(f"$JS.API.STREAM.UPDATE.{sdef.name}", cfg, timeout=10)
            err = json.loads(reply.data).get("error")
        if err:
            raise PublishError(f"stream {sdef.name}: {err.get('description')}")
    from nats.js.api import KeyValueConfig, StorageType

    for bucket in kv_buckets(bus.subjects.prefix):
        for attempt in range(5):
            try:
                await bus.js.key_value(bucket)
                break
            except Exception:
                pass
            try:
                await bus.js.create_key_value(KeyValueConfig(bucket=bucket, history=1, storage=StorageType.FILE,
                                                             replicas=replicas))
                break
            except Exception as exc:  # another process created it at the same moment
                log.info("kv create raced", bucket=bucket, error=repr(exc), attempt=attempt)
                await asyncio.sleep(0.1)
    from .secret_store import ensure_bucket

    await ensure_bucket(bus, replicas=replicas)


async def wait_for_buckets(bus: Bus, *, timeout: float = 120.0) -> None:
    """Until every intent bucket exists. A worker host's NATS user may read its buckets but
    not create streams (the topology and the API do), so a worker started alongside them
    waits here instead of calling ``ensure_streams``."""
    deadline = asyncio.get_running_loop().time() + timeout
    for bucket in kv_buckets(bus.subjects.prefix):
        while True:
            try:
                await bus.js.key_value(bucket)
                break
            except Exception as exc:  # not created yet (or NATS still starting)
                if asyncio.get_running_loop().time() > deadline:
                    raise PublishError(f"bucket {bucket} does not exist: {exc!r}") from exc
                await asyncio.sleep(0.5)
