"""Worker host permissions, as rendered for nats-server: own keys only, no API subjects."""

from __future__ import annotations

from netledger.deploy import nats_auth
from netledger.deploy.streams import kv_buckets


def test_worker_may_only_create_consumers_on_its_own_keys():
    user = nats_auth.worker_user("h1.example", "pw", "nl")
    creates = [s for s in user.publish if ".CONSUMER.CREATE." in s]
    assert len(creates) == len(kv_buckets("nl"))
    assert all(s.endswith(".h1_example.>") and ".KV_" in s for s in creates)
    assert not any(s.startswith(("nl.evt", "nl.claim", ">")) for s in user.publish)
    assert user.subscribe == ("_INBOX.host-h1_example.>",)
    assert user.inbox_prefix == "_INBOX.host-h1_example"


def test_control_plane_users_keep_full_access():
    block = nats_auth.render_authorization([nats_auth.NatsUser(name="api", password='p"w')])
    assert '{user: "api", password: "p\\"w", permissions: {publish: {allow: [">"]}, subscribe: {allow: [">"]}}}' in block


def test_credentials_round_trip(tmp_path):
    user = nats_auth.worker_user("h1", "s3cret", "nl")
    path = tmp_path / "c.toml"
    path.write_text(nats_auth.render_credentials(user))
    assert nats_auth.load_credentials(str(path)) == {"user": "host-h1", "password": "s3cret",
                                                     "inbox_prefix": "_INBOX.host-h1"}
