"""swanctl/strongswan.conf rendering: golden text, proposals, secrets never in clear."""

from __future__ import annotations

import base64
import os

import pytest

from netledger.libs.events.vpnaas import Dpd, IkePolicy, IpsecPolicy, Lifetime, VpnConnectionIntent, VpnIntent
from netledger.services.advanced.vpn import render

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
CID = "5f0c1a52-6a43-4f0e-9d0e-000000000001"


def conn(**kw) -> VpnConnectionIntent:
    base = dict(connection_id=CID, local_address="203.0.113.11", local_id="203.0.113.11",
                peer_address="203.0.113.12", peer_id="203.0.113.12", psk="s3cret \"quoted\" psk",
                local_cidrs=("10.61.0.0/24",), peer_cidrs=("10.62.0.0/24", "10.63.0.0/24"),
                ike=IkePolicy(id="i", project_id="p", ike_version="v2", encryption_algorithm="aes-256",
                              auth_algorithm="sha256", pfs="group14", lifetime=Lifetime(value=7200)),
                ipsec=IpsecPolicy(id="s", project_id="p", encryption_algorithm="aes-128-gcm-16", pfs="group19"),
                dpd=Dpd(action="restart", interval=5, timeout=20))
    return VpnConnectionIntent(**{**base, **kw})


def golden(name: str, text: str) -> None:
    path = os.path.join(GOLDEN, name)
    if os.environ.get("UPDATE_GOLDEN"):
        open(path, "w").write(text)
    assert text == open(path).read()


def test_connection_golden():
    golden("vpn_connection.conf", render.render_connection(conn()))


def test_strongswan_conf_golden():
    golden("vpn_strongswan.conf", render.render_strongswan_conf("/var/lib/netledger/vpn/r1"))


def test_psk_is_never_in_clear():
    text = render.render_connection(conn())
    assert "s3cret" not in text
    assert f"0s{base64.b64encode(conn().psk.encode()).decode()}" in text


@pytest.mark.parametrize("enc,auth,pfs,ike,esp", [
    ("aes-128", "sha1", "group5", "aes128-sha1-modp1536", "aes128-sha1-modp1536"),
    ("aes-256-gcm-16", "sha384", "group20", "aes256gcm16-prfsha384-ecp384", "aes256gcm16-ecp384"),
    ("3des", "aes-xcbc", "group2", "3des-aesxcbc-modp1024", "3des-aesxcbc-modp1024"),
])
def test_proposals(enc, auth, pfs, ike, esp):
    assert render.ike_proposal(IkePolicy(id="i", project_id="p", encryption_algorithm=enc, auth_algorithm=auth,
                                         pfs=pfs)) == ike
    assert render.esp_proposal(IpsecPolicy(id="i", project_id="p", encryption_algorithm=enc, auth_algorithm=auth,
                                           pfs=pfs)) == esp


def test_response_only_and_dpd_disabled():
    text = render.render_connection(conn(initiator="response-only", dpd=Dpd(action="disabled")))
    assert "start_action = none" in text and "dpd_delay = 0s" in text


def test_unsafe_identity_refused():
    with pytest.raises(ValueError):
        render.render_connection(conn(peer_id='x" }\nsecrets {'))


def test_files_one_per_connection():
    c2 = conn(connection_id="5f0c1a52-6a43-4f0e-9d0e-000000000002")
    files = render.render_files(VpnIntent(router_id="r", connections=(conn(), c2)), "/s/r")
    assert sorted(files) == ["conns/" + CID + ".conf", f"conns/{c2.connection_id}.conf", "strongswan.conf",
                             "swanctl.conf"]
    assert render.render_files(VpnIntent(router_id="r", connections=(conn(), c2)), "/s/r") == files
