"""Stand up a throw-away netledger (nats-server, topology, API) for benchmarks."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from netledger.deploy import nats as nats_deploy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def stack(*, sync_always: bool = True, api_processes: int = 1):
    """Yields (api_url, nats_url, workdir); everything is stopped by pid afterwards."""
    work = tempfile.mkdtemp(prefix="nl-bench-")
    nport = free_port()
    nats = nats_deploy.start(workdir=os.path.join(work, "nats"), port=nport, sync_always=sync_always)
    nats_url = f"nats://127.0.0.1:{nport}"
    env = {**os.environ, "NETLEDGER_VAR_DIR": work,
           "NETLEDGER_LOG_LEVEL": os.environ.get("NL_BENCH_LOG_LEVEL", "warning")}
    procs = []
    try:
        base = [sys.executable, "-m", "netledger.cli", "--nats", nats_url]
        procs.append(_spawn(base + ["topology"], env, work, "topology"))
        ports = [free_port() for _ in range(api_processes)]
        for i, port in enumerate(ports):
            procs.append(_spawn(base + ["api", "--port", str(port)], env, work, f"api{i}"))
        for port in ports:
            wait_http(f"http://127.0.0.1:{port}/")
        yield [f"http://127.0.0.1:{p}" for p in ports], nats_url, work
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=10)
        nats.terminate()
        nats.wait(timeout=10)
        if os.environ.get("NL_BENCH_KEEP"):
            sys.stderr.write(f"logs kept in {work}\n")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _spawn(cmd, env, work, name) -> subprocess.Popen:
    log = open(os.path.join(work, f"{name}.log"), "ab")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=log, start_new_session=True)


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")
