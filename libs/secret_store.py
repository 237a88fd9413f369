"""Data keys of sealed secrets in the KV bucket NL_SECRETS (the only I/O of secrets).

One key per secret, KV key = the secret's ``key_id``. The bucket keeps history 1 and
lives outside every event stream, so destroying a key really removes it: the value's
message is deleted with the server's secure erase (JetStream overwrites it in the
store file) and a purge marker (no payload) rolls the key up. Ciphertext left in the
event log is then unreadable forever (crypto shredding).

Idempotency: ``ensure`` creates a key once (KV create = "must not exist") and returns
the existing one on a retry, so a replayed create request seals under the same key.
Keys are cached in memory by this process; ``destroy`` evicts its own cache entry.
"""

from __future__ import annotations

import structlog

from netledger.libs.events.secrets import SECRETS_BUCKET

from . import secrets

log = structlog.get_logger("secrets")


def secrets_bucket(prefix: str) -> str:
    up = prefix.upper().replace(".", "_")
    return SECRETS_BUCKET if up == "NL" else f"{up}_{SECRETS_BUCKET}"


def bucket_config(bucket: str, *, replicas: int = 1) -> dict:
    """The bucket's stream, raw: a KV bucket as nats.py makes it, except that message
    deletes are allowed (nats.py sets deny_delete, which would forbid the secure erase;
    the flag cannot be cleared later, so the bucket is created this way from the start)."""
    return {"name": f"KV_{bucket}", "subjects": [f"$KV.{bucket}.>"], "storage": "file", "retention": "limits",
            "discard": "new", "max_msgs_per_subject": 1, "num_replicas": replicas, "allow_rollup_hdrs": True,
            "deny_delete": False, "deny_purge": False, "allow_direct": True, "max_age": 0,
            "duplicate_window": 120_000_000_000}


async def ensure_bucket(bus, *, replicas: int = 1) -> None:
    """Create the secrets bucket if missing (idempotent: an existing one is kept)."""
    import json

    bucket = secrets_bucket(bus.subjects.prefix)
    reply = await bus.nc.request(f"$JS.API.STREAM.CREATE.KV_{bucket}",
                                 json.dumps(bucket_config(bucket, replicas=replicas)).encode(), timeout=10)
    err = json.loads(reply.data).get("error")
    if err and err.get("err_code") != 10058:      # 10058: exists (with whatever config it has)
        raise RuntimeError(f"secrets bucket {bucket}: {err.get('description')}")


class SecretStore:
    def __init__(self, js, kv, bucket: str) -> None:
        self.js, self.kv, self.bucket = js, kv, bucket
        self.cache: dict[str, bytes] = {}

    @classmethod
    async def open(cls, bus) -> "SecretStore":
        bucket = secrets_bucket(bus.subjects.prefix)
        return cls(bus.js, await bus.js.key_value(bucket), bucket)

    async def get(self, key_id: str) -> bytes | None:
        if key_id in self.cache:
            return self.cache[key_id]
        from nats.js.errors import KeyNotFoundError

        try:
            entry = await self.kv.get(key_id)
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        self.cache[key_id] = entry.value
        return entry.value

    async def ensure(self, key_id: str) -> bytes:
        from nats.js.errors import KeyWrongLastSequenceError

        key = await self.get(key_id)
        if key is not None:
            return key
        key = secrets.new_key()
        try:
            await self.kv.create(key_id, key)
        except KeyWrongLastSequenceError:      # raced with a retry of the same request
            return await self.get(key_id) or await self.ensure(key_id)
        self.cache[key_id] = key
        return key

    async def destroy(self, key_id: str) -> None:
        """Erase the key from the store files, then leave only a purge marker."""
        from nats.js.errors import KeyNotFoundError

        self.cache.pop(key_id, None)
        try:
            entry = await self.kv.get(key_id)
        except KeyNotFoundError:
            return
        try:
            await self.js.delete_msg(f"KV_{self.bucket}", entry.revision)   # secure erase (no_erase false)
        except Exception as exc:  # noqa: BLE001 - already gone: the purge below still runs
            log.info("secret erase skipped", key_id=key_id, error=str(exc)[:200])
        await self.kv.purge(key_id)
        log.info("secret destroyed", key_id=key_id)

    async def open_sealed(self, sealed) -> str:
        key = await self.get(sealed.key_id) if secrets.needs_key(sealed) else None
        return secrets.open_sealed(sealed, key)
