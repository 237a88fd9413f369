"""Secrets as the event log may carry them: sealed, never plaintext (the contract).

An event stream can never be rewritten, so it must never hold a secret. A secret
(a VPN PSK today; TLS keys or credentials later) travels as :class:`Sealed`:
AES-256-GCM ciphertext under a per-secret data key that lives only in the KV bucket
``NL_SECRETS`` (history 1, outside every stream). Destroying the data key (crypto
shredding) leaves the history intact and the secret unrecoverable.

``scheme = "none"`` marks a secret written before sealing existed (upcast from an old
event): ``ciphertext`` is then the base64 of the plaintext, which the old event still
holds; ``netledger secrets migrate`` reseals it in a new fact.
"""

from __future__ import annotations

from .base import Struct

SECRETS_BUCKET = "NL_SECRETS"
AES_GCM = "aes-256-gcm"
PLAIN = "none"


class Sealed(Struct, frozen=True, kw_only=True):
    """One sealed secret: which data key, the nonce and the ciphertext (both base64).
    The additional authenticated data is ``key_id``: a ciphertext cannot be replayed
    under another secret's key id."""

    scheme: str = AES_GCM
    key_id: str = ""
    nonce: str = ""
    ciphertext: str = ""

    def __repr__(self) -> str:   # never the ciphertext's neighbour, the plaintext, in logs
        return f"Sealed(scheme={self.scheme!r}, key_id={self.key_id!r})"
