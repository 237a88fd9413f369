"""Session-wide real servers: one nats-server (JetStream, file storage) per test session."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile

import pytest

from netledger.deploy import nats as nats_deploy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_collection_modifyitems(config, items):
    """Tests that run whole stacks (subprocesses, real packets) on a shared 2-core machine get one
    more try after a failure (a second failure still fails the run); everything else
    must pass first time."""
    for item in items:
        heavy = item.get_closest_marker("dataplane") or item.get_closest_marker("reliability")
        path = str(item.path)
        if heavy or any(f"/{d}/" in path for d in ("dataplane", "reliability", "integration")):
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=2))


@pytest.fixture(scope="session")
def nats_server():
    """A real nats-server for the whole session; yields its URL. Stopped by pid."""
    workdir = tempfile.mkdtemp(prefix="nl-nats-")
    port = free_port()
    proc = nats_deploy.start(workdir=workdir, port=port)
    try:
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def prefix(request):
    """A per-test subject prefix: tests share one server without seeing each other."""
    import uuid

    return "t" + uuid.uuid4().hex[:10]
