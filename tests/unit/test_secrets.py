"""Sealed secrets, pure: seal/open round trip, the key and key id are both needed, and
version-1 connection facts (plaintext PSK) still decode, upcast to the sealed shape."""

from __future__ import annotations

import msgspec
import pytest

from netledger.libs import secrets
from netledger.libs.events import codec
from netledger.libs.events import vpnaas as V
from netledger.libs.events.envelope import wrap
from netledger.libs.events.secrets import PLAIN

KEY = secrets.new_key()


def test_round_trip_and_no_plaintext_in_the_sealed_form():
    sealed = secrets.seal(KEY, "c1", "marker-psk-1234")
    assert secrets.open_sealed(sealed, KEY) == "marker-psk-1234"
    wire = msgspec.json.encode(sealed)
    assert b"marker-psk-1234" not in wire and b"bWFya2Vy" not in wire     # nor its base64
    assert "marker" not in repr(sealed)


@pytest.mark.parametrize("key, key_id", [(None, "c1"), (secrets.new_key(), "c1"), (KEY, "c2")])
def test_open_needs_the_right_key_and_key_id(key, key_id):
    sealed = msgspec.structs.replace(secrets.seal(KEY, "c1", "p"), key_id=key_id)
    with pytest.raises(secrets.SecretUnavailable):
        secrets.open_sealed(sealed, key)


def test_fresh_nonce_per_seal():
    assert secrets.seal(KEY, "c1", "p").ciphertext != secrets.seal(KEY, "c1", "p").ciphertext


def v1_bytes(tag: str) -> bytes:
    """A version-1 fact as a writer before sealing put it on the stream."""
    value = {"id": "c1", "project_id": "p", "vpnservice_id": "s", "ikepolicy_id": "i", "ipsecpolicy_id": "e",
             "peer_address": "203.0.113.9", "peer_id": "203.0.113.9", "psk": "old-plain-psk"}
    env = msgspec.json.decode(msgspec.json.encode(
        wrap(V.SiteConnectionDeleted(id="c1"), kind="ipsec_site_connection", aggregate_id="c1",
             time="2026-01-01T00:00:00Z")))
    env["event"] = {"type": tag, "value": value}
    return msgspec.json.encode(env)


@pytest.mark.parametrize("tag, cls", [("SiteConnectionCreated", V.SiteConnectionCreated),
                                      ("SiteConnectionUpdated", V.SiteConnectionUpdated)])
def test_v1_plaintext_fact_is_upcast(tag, cls):
    env = codec.decode(v1_bytes(tag))
    assert isinstance(env.event, cls)
    psk = env.event.value.psk
    assert psk.scheme == PLAIN and not secrets.needs_key(psk)
    assert secrets.open_sealed(psk, None) == "old-plain-psk"


def test_v2_fact_round_trips_without_upcast():
    value = msgspec.convert({"id": "c1", "project_id": "p", "vpnservice_id": "s", "ikepolicy_id": "i",
                             "ipsecpolicy_id": "e", "peer_address": "x", "peer_id": "x",
                             "psk": secrets.seal(KEY, "c1", "marker-v2-psk-0042")}, V.SiteConnection)
    data = codec.encode(wrap(V.SiteConnectionCreated(value=value), kind="ipsec_site_connection", aggregate_id="c1"))
    assert b'"SiteConnectionCreated.v2"' in data and b"marker-v2-psk-0042" not in data
    assert secrets.open_sealed(codec.decode(data).event.value.psk, KEY) == "marker-v2-psk-0042"
