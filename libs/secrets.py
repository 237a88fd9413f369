"""Seal and open secrets with a data key (pure: no I/O; the nonce is passed in or drawn
from the OS CSPRNG, never from a seeded generator).

See :mod:`netledger.libs.events.secrets` for why secrets are sealed. Data keys are
32 random bytes, one per secret (its ``key_id`` is the owning resource's id), kept by
:mod:`netledger.libs.secret_store`.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from netledger.libs.events.secrets import AES_GCM, PLAIN, Sealed  # noqa: F401 - Sealed re-exported

KEY_BYTES = 32


class SecretUnavailable(LookupError):
    """The data key is gone (shredded) or the ciphertext does not verify."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def seal(key: bytes, key_id: str, plaintext: str, *, nonce: bytes | None = None) -> Sealed:
    nonce = nonce if nonce is not None else os.urandom(12)
    ct = AESGCM(key).encrypt(nonce, plaintext.encode(), key_id.encode())
    return Sealed(scheme=AES_GCM, key_id=key_id, nonce=base64.b64encode(nonce).decode(),
                  ciphertext=base64.b64encode(ct).decode())


def legacy(plaintext: str) -> Sealed:
    """A plaintext secret from an old event, marked as such (upcasters only)."""
    return Sealed(scheme=PLAIN, ciphertext=base64.b64encode(plaintext.encode()).decode())


def needs_key(sealed: Sealed) -> bool:
    return sealed.scheme != PLAIN


def open_sealed(sealed: Sealed, key: bytes | None) -> str:
    """The plaintext; :class:`SecretUnavailable` if the key is missing or wrong."""
    if sealed.scheme == PLAIN:
        return base64.b64decode(sealed.ciphertext).decode()
    if sealed.scheme != AES_GCM or key is None:
        raise SecretUnavailable(f"no data key for secret {sealed.key_id}")
    try:
        pt = AESGCM(key).decrypt(base64.b64decode(sealed.nonce), base64.b64decode(sealed.ciphertext),
                                 sealed.key_id.encode())
    except Exception as exc:  # InvalidTag: wrong key or tampered ciphertext
        raise SecretUnavailable(f"secret {sealed.key_id} does not verify") from exc
    return pt.decode()
