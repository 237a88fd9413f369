"""Helpers for integration tests: a real netledger stack as subprocesses, a tiny client."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

from netledger.deploy.nats import wait_port


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Client:
    """Synchronous JSON client for the Neutron API (what every test needs, nothing more)."""

    base: str
    headers: dict = field(default_factory=dict)

    def call(self, method: str, path: str, body=None, headers: dict | None = None, raw: bytes | None = None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **self.headers, **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                payload = resp.read()
                return resp.status, (json.loads(payload) if payload else None)
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                return exc.code, json.loads(payload) if payload else None
            except ValueError:
                return exc.code, {"raw": payload.decode(errors="replace")}

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def as_project(self, project: str, *, admin: bool = False) -> "Client":
        extra = {"X-Project-Id": project}
        if admin:
            extra["X-Roles"] = "admin"
        return Client(self.base, {**self.headers, **extra})

    # shortcuts that assert success
    def create(self, kind: str, **attrs) -> dict:
        status, body = self.post(f"/v2.0/{kind}s", {kind: attrs})
        assert status == 201, (status, body)
        return body[kind]


@dataclass
class Stack:
    nats_url: str
    prefix: str
    workdir: str
    api_urls: list[str]
    procs: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)

    @property
    def api(self) -> Client:
        return Client(self.api_urls[0])

    @property
    def db_path(self) -> str:
        return os.path.join(self.workdir, "topology.db")

    def spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(os.path.join(self.workdir, f"{name}.log"), "ab")
        cmd = [sys.executable, "-m", "netledger.cli", "--nats", self.nats_url, "--prefix", self.prefix, *args]
        proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=log, start_new_session=True)
        self.procs[name] = proc
        return proc

    def stop(self, name: str, sig: str = "term") -> None:
        proc = self.procs.pop(name)
        proc.kill() if sig == "kill" else proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def start_stack(nats_url: str, *, apis: int = 1, prefix: str | None = None, extra_env: dict | None = None) -> Stack:
    workdir = tempfile.mkdtemp(prefix="nl-it-")
    prefix = prefix or "it" + uuid.uuid4().hex[:8]
    # gRPC stays off in test stacks unless a test asks for a port (no shared 9698).
    env = {**os.environ, "NETLEDGER_VAR_DIR": workdir, "NETLEDGER_LOG_LEVEL": "info", "NETLEDGER_GRPC_PORT": "0",
           **(extra_env or {})}
    ports = [free_port() for _ in range(apis)]
    stack = Stack(nats_url=nats_url, prefix=prefix, workdir=workdir,
                  api_urls=[f"http://127.0.0.1:{p}" for p in ports], env=env)
    stack.spawn("topology", ["topology"])
    for i, port in enumerate(ports):
        stack.spawn(f"api{i}", ["api", "--port", str(port)])
    try:
        for url in stack.api_urls:
            wait_http(url + "/")
    except RuntimeError as exc:
        logs = {n: open(os.path.join(workdir, f"{n}.log")).read()[-2000:] for n in stack.procs}
        stack.stop_all()
        raise RuntimeError(f"{exc}\n{logs}") from None
    status, body = stack.api.get("/v2.0/networks?name=probe")
    if status != 200:
        logs = {n: open(os.path.join(workdir, f"{n}.log")).read()[-3000:] for n in stack.procs}
        raise RuntimeError(f"stack not healthy: {status} {body}\n{logs}")
    return stack


def destroy_stack(stack: Stack) -> None:
    stack.stop_all()
    shutil.rmtree(stack.workdir, ignore_errors=True)
