"""The API's side of sealed PSKs: seal on write, open for the owner's reads, shred on delete.

Neutron returns ``psk`` to whoever may see the connection (create, show, list, update
bodies), so the API opens it for responses; everything stored -- the fact in the log,
the projection row, the VPN intent -- holds only :class:`Sealed` ciphertext. The data
key of a connection is keyed by the connection's id (``key_id``): one key per secret,
created before the fact is published (so a retried create reuses it) and destroyed
after the delete fact is committed (crypto shredding; see libs/secret_store).
"""

from __future__ import annotations

import structlog

from netledger.libs import secrets
from netledger.libs.events.secrets import Sealed
from netledger.libs.secret_store import SecretStore

log = structlog.get_logger("api.secrets")


async def store(svc) -> SecretStore:
    found = getattr(svc, "_secret_store", None)
    if found is None:
        found = svc._secret_store = await SecretStore.open(svc.bus)
    return found


async def seal_psk(svc, key_id: str, psk: str) -> Sealed:
    return secrets.seal(await (await store(svc)).ensure(key_id), key_id, psk)


def _sealed(body: dict) -> Sealed | None:
    raw = body.get("psk")
    return Sealed(**raw) if isinstance(raw, dict) else None


async def prefetch(svc, bodies_key_ids: list[str]) -> None:
    """Load the data keys a page of responses will need (list answers are built sync)."""
    st = await store(svc)
    for kid in bodies_key_ids:
        await st.get(kid)


def reveal_cached(svc, body: dict) -> dict:
    """The body with ``psk`` opened from the keys already loaded (``None`` if shredded)."""
    sealed = _sealed(body)
    if sealed is None:
        return body
    st = getattr(svc, "_secret_store", None)
    try:
        psk = secrets.open_sealed(sealed, st.cache.get(sealed.key_id) if st else None)
    except secrets.SecretUnavailable:
        log.warning("psk unavailable", connection_id=body.get("id"))
        psk = None
    return {**body, "psk": psk}


async def reveal(svc, body: dict) -> dict:
    sealed = _sealed(body)
    if sealed is not None and secrets.needs_key(sealed):
        await prefetch(svc, [sealed.key_id])
    return reveal_cached(svc, body)


def visible_key_ids(svc, scope: str | None) -> list[str]:
    q = "SELECT json_extract(body, '$.psk.key_id') FROM ipsec_site_connections"
    rows = svc.reader.conn.execute(q + (" WHERE project_id = ?" if scope else ""), [scope] if scope else [])
    return [r[0] for r in rows if r[0]]


async def destroy(svc, key_id: str) -> None:
    await (await store(svc)).destroy(key_id)


def full(sealed: Sealed) -> dict:
    """As the projection stores it (a merge with the current body compares like for like)."""
    return {f: getattr(sealed, f) for f in sealed.__struct_fields__}
