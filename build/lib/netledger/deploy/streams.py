"""JetStream streams and KV buckets as code.

Durability: file storage everywhere. The embedded server runs with
``sync_interval: always`` (see deploy/nats.py), so a publish is acknowledged only
after the message is fsynced: an acknowledged write survives kill -9 of the server.
``duplicate_window`` is how long a ``Nats-Msg-Id`` (the request's idempotency key)
is remembered: a retried request inside it never acts twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netledger.libs.events.dhcp import DHCP_BUCKET
from netledger.libs.events.intents import L2_BUCKET
from netledger.libs.events.l3_intents import L3_BUCKET
from netledger.libs.events.octavia import LB_BUCKET
from netledger.libs.events.subjects import Subjects
from netledger.libs.events.vpnaas import VPN_BUCKET

DUPLICATE_WINDOW_S = 600


@dataclass(frozen=True)
class StreamDef:
    name: str
    subjects: list[str]
    duplicate_window_s: int = DUPLICATE_WINDOW_S
    max_age_s: int = 0
    extra: dict = field(default_factory=dict)

    def config(self) -> dict:
        """The raw JetStream API config (raw so new server options need no client)."""
        cfg = {
            "name": self.name, "subjects": self.subjects, "storage": "file",
            "retention": "limits", "discard": "old", "num_replicas": 1,
            "duplicate_window": self.duplicate_window_s * 1_000_000_000,
            "max_age": self.max_age_s * 1_000_000_000, "allow_direct": True,
        }
        cfg.update(self.extra)
        return cfg


def stream_names(prefix: str) -> dict[str, str]:
    up = prefix.upper().replace(".", "_")
    return {"events": f"{up}_EVENTS", "status": f"{up}_STATUS", "dlq": f"{up}_DLQ"}


def streams(subjects: Subjects, *, replicas: int = 1) -> list[StreamDef]:
    names = stream_names(subjects.prefix)
    rep = {"num_replicas": replicas}
    return [
        # allow_atomic: bulk creates publish their facts as one all-or-nothing batch.
        StreamDef(names["events"], subjects.events_filter, extra={**rep, "allow_atomic": True}),
        # Status reports are facts too, but only the latest per port/agent matters
        # for the projection; keeping them bounded per subject keeps rebuilds short.
        StreamDef(names["status"], subjects.status_filter, extra={**rep, "max_msgs_per_subject": 16}),
        StreamDef(names["dlq"], subjects.dlq_filter, extra=rep),
    ]


def kv_buckets(prefix: str) -> list[str]:
    """Intent buckets, by index: 0 = L2, 1 = DHCP, 2 = L3, 3 = VPN, 4 = LB."""
    up = prefix.upper().replace(".", "_")
    return [f"{up}_{b}" if up != "NL" else b for b in (L2_BUCKET, DHCP_BUCKET, L3_BUCKET, VPN_BUCKET, LB_BUCKET)]
