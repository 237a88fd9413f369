"""NATS as a trust boundary: a worker host's credentials reach only its own subjects.

A real nats-server runs with the authorization block deploy/ generates; every client
connects the way services do (libs/bus.py, credentials from the generated files), and
refusals are the server's permission violations, as a compromised hypervisor would see them.
"""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import tempfile

import pytest

from netledger.deploy import nats as nats_deploy
from netledger.deploy import nats_auth
from netledger.deploy.streams import kv_buckets, stream_names
from netledger.libs import bus as bus_mod
from netledger.libs.events.subjects import Subjects
from tests.conftest import free_port

PREFIX = "nl"


@pytest.fixture(scope="module")
def secured():
    """(url, secrets dir) of a nats-server that requires the generated users."""
    workdir = tempfile.mkdtemp(prefix="nl-nats-auth-")
    secrets_dir = os.path.join(workdir, "secrets")
    users = nats_auth.ensure_credentials(secrets_dir, prefix=PREFIX, hosts=["h1", "h2.example"])
    port = free_port()
    proc = nats_deploy.start(workdir=workdir, port=port, authorization=nats_auth.render_authorization(users))
    try:
        yield f"nats://127.0.0.1:{port}", secrets_dir
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def connect_as(url: str, secrets_dir: str, user: str, monkeypatch) -> tuple[bus_mod.Bus, list[str]]:
    monkeypatch.setenv("NETLEDGER_NATS_CREDENTIALS", nats_auth.credentials_path(secrets_dir, user))
    bus = await bus_mod.connect(url, name=f"test-{user}", subjects=Subjects(PREFIX))
    violations: list[str] = []

    async def on_error(exc):
        violations.append(str(exc))
    bus.nc._error_cb = on_error   # the server's -ERR "Permissions Violation" lands here
    return bus, violations


async def refused(violations: list[str], action, subject_part: str) -> None:
    """The action gets no answer and the server reports a violation naming the subject."""
    with pytest.raises(Exception):
        await action()
    for _ in range(50):
        if any(subject_part.lower() in v.lower() for v in violations):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no permissions violation for {subject_part}: {violations}")


async def seeded(url, secrets_dir, monkeypatch):
    admin, _ = await connect_as(url, secrets_dir, "api", monkeypatch)
    await bus_mod.ensure_streams(admin)
    kv = await admin.js.key_value(kv_buckets(PREFIX)[0])
    await kv.put("h1.port.p1", b"for-h1")
    await kv.put("h2_example.port.p2", b"for-h2")
    await admin.nc.request(f"{PREFIX}.evt.port.p1", b"{}", timeout=5)
    return admin


async def test_worker_reads_own_intents_and_publishes_status(secured, monkeypatch):
    url, secrets_dir = secured
    admin = await seeded(url, secrets_dir, monkeypatch)
    worker, violations = await connect_as(url, secrets_dir, "host-h1", monkeypatch)
    kv = await worker.js.key_value(kv_buckets(PREFIX)[0])
    watcher = await kv.watch("h1.>")
    entry = await asyncio.wait_for(watcher.updates(), 10)
    assert (entry.key, entry.value) == ("h1.port.p1", b"for-h1")
    reply = await worker.nc.request(Subjects(PREFIX).status("port", "p1"), b"{}", timeout=5)
    assert b'"stream":"%s"' % stream_names(PREFIX)["status"].encode() in reply.data
    assert violations == []
    await watcher.stop()
    await worker.nc.close()
    await admin.nc.close()


async def test_worker_credentials_are_refused_elsewhere(secured, monkeypatch):
    url, secrets_dir = secured
    admin = await seeded(url, secrets_dir, monkeypatch)
    worker, violations = await connect_as(url, secrets_dir, "host-h1", monkeypatch)
    bucket = kv_buckets(PREFIX)[0]
    kv = await worker.js.key_value(bucket)
    # API events and claims: a hypervisor cannot write facts.
    violations.clear()
    await refused(violations, lambda: worker.nc.request(f"{PREFIX}.evt.port.p1", b"{}", timeout=1),
                  f"{PREFIX}.evt.port.p1")
    violations.clear()
    await refused(violations, lambda: worker.nc.request(f"{PREFIX}.claim.ip.s.0a000001", b"{}", timeout=1),
                  f"{PREFIX}.claim.ip")
    # Another host's intents: no watch, no direct get, no raw subscription, no inbox sniffing.
    violations.clear()
    await refused(violations, lambda: asyncio.wait_for(kv.watch("h2_example.>"), 3), f"$kv.{bucket}.h2_example")
    violations.clear()
    await refused(violations, lambda: kv.get("h2_example.port.p2"), f"kv_{bucket}")
    for subject in (f"$KV.{bucket}.h2_example.>", "_INBOX.>"):
        violations.clear()
        await worker.nc.subscribe(subject)
        await worker.nc.flush()
        await refused(violations, lambda: worker.nc.request("never.answered", b"", timeout=0.2), subject)
        assert any("subscription" in v and subject.lower() in v.lower() for v in violations), violations
    # The events stream: no consumer on it.
    violations.clear()
    await refused(violations, lambda: worker.js.pull_subscribe(f"{PREFIX}.evt.>", stream=stream_names(PREFIX)["events"]),
                  f"consumer.create.{stream_names(PREFIX)['events']}")
    await worker.nc.close()
    await admin.nc.close()


async def test_wrong_password_is_refused(secured, monkeypatch, tmp_path):
    url, secrets_dir = secured
    forged = tmp_path / "forged.creds.toml"
    forged.write_text('user = "api"\npassword = "guess"\ninbox_prefix = "_INBOX"\n')
    monkeypatch.setenv("NETLEDGER_NATS_CREDENTIALS", str(forged))
    with pytest.raises(Exception):
        await asyncio.wait_for(bus_mod.connect(url, name="forged"), 3)


def test_credentials_are_private_and_stable(tmp_path):
    first = nats_auth.ensure_credentials(str(tmp_path), prefix=PREFIX, hosts=["h1"])
    again = nats_auth.ensure_credentials(str(tmp_path), prefix=PREFIX, hosts=["h1", "h2"])
    assert {u.name: u.password for u in first}.items() <= {u.name: u.password for u in again}.items()
    for user in again:
        mode = os.stat(nats_auth.credentials_path(str(tmp_path), user.name)).st_mode
        assert stat.S_IMODE(mode) == 0o600


async def test_deploy_command_generates_a_cluster_authorization(tmp_path, monkeypatch):
    """`netledger deploy nats-auth` output, included from a server config, enforces the same."""
    secrets_dir, auth = tmp_path / "secrets", tmp_path / "auth.conf"
    out = subprocess.run([sys.executable, "-m", "netledger.cli", "deploy", "nats-auth", "--hosts", "h1,h2",
                          "--secrets-dir", str(secrets_dir), "--out", str(auth)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(os.stat(auth).st_mode) == 0o600
    port = free_port()
    conf = tmp_path / "server.conf"
    conf.write_text(nats_deploy.render_config(host="127.0.0.1", port=port, store_dir=str(tmp_path / "js"))
                    + 'include "auth.conf"\n')   # include paths are relative to the config
    proc = subprocess.Popen([nats_deploy.nats_server_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        nats_deploy.wait_port("127.0.0.1", port, proc)
        url = f"nats://127.0.0.1:{port}"
        admin, _ = await connect_as(url, str(secrets_dir), "topology", monkeypatch)
        await bus_mod.ensure_streams(admin)
        worker, violations = await connect_as(url, str(secrets_dir), "host-h2", monkeypatch)
        reply = await worker.nc.request(f"{PREFIX}.status.agent.a2", b"{}", timeout=5)
        assert b"NL_STATUS" in reply.data
        await refused(violations, lambda: worker.nc.request(f"{PREFIX}.evt.router.r1", b"{}", timeout=1),
                      f"{PREFIX}.evt.router.r1")
        await worker.nc.close()
        await admin.nc.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
