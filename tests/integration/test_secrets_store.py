"""Secrets never enter the JetStream store files, and deleting a VPN connection shreds
its key. A private nats-server (its store_dir is scanned byte for byte) with the real
API and topology; the PSK is a marker string easy to find if it ever leaked."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

from netledger.deploy import nats as nats_deploy
from netledger.libs.secret_store import secrets_bucket
from tests.support import destroy_stack, free_port, start_stack

from .test_api_vpnaas import VPN, connection_parts, site  # noqa: F401 - site is a fixture

MARKER = "psk-marker-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def own_nats():
    workdir = tempfile.mkdtemp(prefix="nl-nats-secrets-")
    port = free_port()
    proc = nats_deploy.start(workdir=workdir, port=port)
    try:
        yield f"nats://127.0.0.1:{port}", os.path.join(workdir, "jetstream")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(own_nats):
    s = start_stack(own_nats[0])
    try:
        yield s
    finally:
        destroy_stack(s)


@pytest.fixture
def api(stack):
    return stack.api


def files_holding(root: str, needles: list[bytes]) -> list[str]:
    hits = []
    for d, _, names in os.walk(root):
        for n in names:
            with open(os.path.join(d, n), "rb") as fh:
                data = fh.read()
            hits += [f"{os.path.join(d, n)}: {needle[:12]!r}" for needle in needles if needle in data]
    return hits


def kv_key(url: str, prefix: str, key_id: str) -> bytes | None:
    async def run():
        import nats
        from nats.js.errors import KeyNotFoundError

        nc = await nats.connect(url)
        try:
            kv = await nc.jetstream().key_value(secrets_bucket(prefix))
            try:
                return (await kv.get(key_id)).value
            except KeyNotFoundError:
                return None
        finally:
            await nc.close()
    return asyncio.run(run())


def test_psk_is_sealed_in_the_store_and_shredded_on_delete(api, site, stack, own_nats):  # noqa: F811
    url, store_dir = own_nats
    ike, ipsec, svc, local, peer = connection_parts(api, site)
    status, body = api.post(f"{VPN}/ipsec-site-connections", {"ipsec_site_connection": dict(
        peer_address="198.51.100.9", peer_id="198.51.100.9", psk=MARKER, vpnservice_id=svc["id"],
        ikepolicy_id=ike["id"], ipsecpolicy_id=ipsec["id"], local_ep_group_id=local["id"],
        peer_ep_group_id=peer["id"])})
    assert status == 201 and body["ipsec_site_connection"]["psk"] == MARKER, "Neutron returns the PSK to its owner"
    cid = body["ipsec_site_connection"]["id"]
    path = f"{VPN}/ipsec-site-connections/{cid}"
    assert api.put(path, {"ipsec_site_connection": {"psk": MARKER + "-2"}})[1]["ipsec_site_connection"]["psk"] \
        == MARKER + "-2"
    assert api.get(path)[1]["ipsec_site_connection"]["psk"] == MARKER + "-2"
    assert [c["psk"] for c in api.get(f"{VPN}/ipsec-site-connections")[1]["ipsec_site_connections"]] == [MARKER + "-2"]

    plain = [MARKER.encode(), base64.b64encode(MARKER.encode()), MARKER.encode().hex().encode()]
    assert files_holding(store_dir, plain) == [], "no plaintext PSK in any JetStream store file"
    assert files_holding(stack.workdir, plain) == [], "nor in the projection or the logs"
    key = kv_key(url, stack.prefix, cid)
    assert key is not None and len(key) == 32
    assert files_holding(store_dir, [key]), "the data key is in the secrets bucket (sanity of the scan)"

    assert api.delete(path)[0] == 204
    assert kv_key(url, stack.prefix, cid) is None
    assert files_holding(store_dir, [key]) == [], "the data key is erased from the store files"
    assert files_holding(store_dir, plain) == []


def publish_v1(url: str, prefix: str, cid: str, value: dict) -> None:
    """A connection fact as a netledger before sealing wrote it: plaintext ``psk``."""
    import msgspec

    from netledger.libs.events.envelope import wrap
    from netledger.libs.events.vpnaas import SiteConnectionDeleted

    env = msgspec.json.decode(msgspec.json.encode(wrap(SiteConnectionDeleted(id=cid), kind="ipsec_site_connection",
                                                       aggregate_id=cid)))
    env["event"] = {"type": "SiteConnectionCreated", "value": value}

    async def run():
        import nats

        nc = await nats.connect(url)
        try:
            await nc.jetstream().publish(f"{prefix}.evt.ipsec_site_connection.{cid}", msgspec.json.encode(env))
        finally:
            await nc.close()
    asyncio.run(run())


def wait_for(fn, timeout: float = 15.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (got := fn()) is not None:
            return got
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def sealed_row(db: str, cid: str) -> bool:
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT json_extract(body, '$.psk.scheme') FROM ipsec_site_connections WHERE id = ?",
                           [cid]).fetchone()
    finally:
        conn.close()
    return bool(row) and row[0] == "aes-256-gcm"


def test_old_plaintext_fact_is_upcast_and_migrated(api, site, stack, own_nats):  # noqa: F811
    url, store_dir = own_nats
    ike, ipsec, svc, local, peer = connection_parts(api, site)
    cid, old = str(uuid.uuid4()), "old-plain-" + uuid.uuid4().hex
    publish_v1(url, stack.prefix, cid, {
        "id": cid, "project_id": svc["project_id"], "vpnservice_id": svc["id"], "ikepolicy_id": ike["id"],
        "ipsecpolicy_id": ipsec["id"], "peer_address": "198.51.100.9", "peer_id": "198.51.100.9", "psk": old,
        "router_id": site["router"]["id"], "local_ep_group_id": local["id"], "peer_ep_group_id": peer["id"]})
    path = f"{VPN}/ipsec-site-connections/{cid}"
    shown = wait_for(lambda: (r := api.get(path))[0] == 200 and r[1]["ipsec_site_connection"] or None)
    assert shown["psk"] == old, "a v1 fact still reads (upcast)"
    old_b64 = base64.b64encode(old.encode())
    assert files_holding(stack.workdir, [old_b64]), "before the migration the projection holds it unsealed"

    cmd = [sys.executable, "-m", "netledger.cli", "--nats", url, "--prefix", stack.prefix, "secrets", "migrate",
           "--db", stack.db_path]
    out = subprocess.run(cmd, env=stack.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "resealed 1 secrets" in out.stdout, out
    wait_for(lambda: sealed_row(stack.db_path, cid) or None)
    # (Old SQLite pages/WAL frames may still hold the unsealed row until reused: the
    # projection is rebuildable state, not the log; a rebuild gives a clean file.)
    assert api.get(path)[1]["ipsec_site_connection"]["psk"] == old, "same PSK, now sealed"
    assert kv_key(url, stack.prefix, cid) is not None
    again = subprocess.run(cmd, env=stack.env, capture_output=True, text=True, timeout=60)
    assert "resealed 0 secrets" in again.stdout, again

    # What the migration cannot do (README): the old fact is immutable and keeps its bytes.
    assert files_holding(store_dir, [old.encode()])
    assert api.delete(path)[0] == 204
    assert kv_key(url, stack.prefix, cid) is None
