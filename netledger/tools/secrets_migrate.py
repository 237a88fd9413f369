"""``netledger secrets migrate``: reseal site-connection PSKs still held unsealed.

Connections whose facts were written before sealing existed carry their PSK in
plaintext; on read those facts are upcast to ``scheme = "none"``. This tool finds such
connections in the projection and publishes, for each, a new
``SiteConnectionUpdated.v2`` with the same value and the PSK sealed under a fresh data
key (expected-last-subject-sequence = the row's sequence: a connection changed
meanwhile is skipped and reported; run the tool again). From then on the projection,
the VPN intents and every new fact hold only ciphertext, and deleting the connection
shreds the key. The *old* facts are immutable and keep their plaintext bytes: only a
new stream (re-folded with these values) would remove them -- see the README.
Idempotent: a second run finds nothing to do.
"""

from __future__ import annotations

import sqlite3

import msgspec
import structlog

from netledger.libs import secrets
from netledger.libs.bus import connect, ensure_streams
from netledger.libs.events.envelope import wrap
from netledger.libs.events.secrets import PLAIN
from netledger.libs.events.subjects import Subjects
from netledger.libs.events.vpnaas import SiteConnection, SiteConnectionUpdated
from netledger.libs.secret_store import SecretStore

log = structlog.get_logger("secrets.migrate")


def unsealed(conn: sqlite3.Connection) -> list[tuple[SiteConnection, int]]:
    """(value, seq) of every connection whose PSK is not sealed."""
    rows = conn.execute("SELECT body, router_id, seq FROM ipsec_site_connections "
                        "WHERE json_extract(body, '$.psk.scheme') = ? ORDER BY id", [PLAIN])
    out = []
    for body, router_id, seq in rows:
        data = msgspec.json.decode(body)
        fields = {k: v for k, v in data.items() if k in SiteConnection.__struct_fields__}
        out.append((msgspec.convert({**fields, "router_id": router_id}, SiteConnection), seq))
    return out


def resealed(value: SiteConnection, key: bytes) -> SiteConnection:
    """The same value with its PSK sealed under ``key`` (key id = the connection id)."""
    return msgspec.structs.replace(value, psk=secrets.seal(key, value.id, secrets.open_sealed(value.psk, None)))


async def migrate(cfg, db_path: str) -> tuple[int, int]:
    """(resealed, skipped)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    todo = unsealed(conn)
    conn.close()
    bus = await connect(cfg.nats_url, name="netledger-secrets-migrate", subjects=Subjects(cfg.prefix))
    done = skipped = 0
    try:
        await ensure_streams(bus)
        store = await SecretStore.open(bus)
        for value, seq in todo:
            ev = SiteConnectionUpdated(value=resealed(value, await store.ensure(value.id)))
            subject = bus.subjects.aggregate("ipsec_site_connection", value.id)
            try:
                await bus.publish(subject, wrap(ev, kind="ipsec_site_connection", aggregate_id=value.id),
                                  expect_seq=seq)
                done += 1
                log.info("psk resealed", connection_id=value.id, after_seq=seq)
            except Exception as exc:  # noqa: BLE001 - changed concurrently: reported, rerun
                skipped += 1
                log.warning("psk not resealed", connection_id=value.id, error=str(exc)[:200])
    finally:
        await bus.nc.drain()
    return done, skipped
