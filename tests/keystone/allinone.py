"""The all-in-one as `netledger up --detach` starts it, behind a real Keystone.

Used by the openstacksdk functional-suite runner and the whole-stack benchmark: both
must measure what users run (Keystone token validation, every local worker), not a bare
API. A private var dir, API port, NATS port and subject prefix keep it apart from any
other all-in-one on the machine; everything is stopped at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.keystone import fixture as ksfix
from tests.keystone.directory import Directory
from tests.support import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]
NETLEDGER = ROOT / ".venv" / "bin" / "netledger"


@dataclass
class KeystoneAllInOne:
    api_url: str
    keystone: ksfix.Keystone
    directory: Directory
    env: dict
    var: str

    def token(self, user: str, project: str | None) -> str:
        password = ksfix.ADMIN_PASSWORD if user == "admin" else self.directory.password
        return self.keystone.token(user, password, project)[0]

    def pids(self) -> list[int]:
        """The supervisor and everything it started (services, workers, their helpers)."""
        pid = int(Path(self.var, "netledger.pid").read_text())
        return [pid, *descendants(pid)]


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


@contextlib.contextmanager
def keystone_allinone(*, password: str, projects: dict[str, str], dataplane: bool = True, extra_env=None):
    """Yields a KeystoneAllInOne; `projects` maps user name -> project it is a member of
    (projects and users are created; `service` + a `neutron` service user always are)."""
    ks = ksfix.start(free_port())
    var = tempfile.mkdtemp(prefix="nl-ksaio-")
    os.chmod(var, 0o755)   # dnsmasq drops to nobody and must read its hosts file under var/
    env = None
    try:
        directory = Directory(ks, password)
        for project in {*projects.values(), "service"}:
            directory.project(project)
        for user, project in projects.items():
            directory.user(user, project, "member")
        directory.user("neutron", "service", "service")
        api_port = free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        directory.endpoint(api_url)
        env = {**os.environ, "NETLEDGER_VAR_DIR": var, "NETLEDGER_API_PORT": str(api_port),
               "NETLEDGER_NATS_PORT": str(free_port()), "NETLEDGER_AUTH_STRATEGY": "keystone",
               "NETLEDGER_KEYSTONE_URL": ks.url, "NETLEDGER_KEYSTONE_SERVICE_USER": "neutron",
               "NETLEDGER_KEYSTONE_SERVICE_PASSWORD": password, "NETLEDGER_KEYSTONE_SERVICE_PROJECT": "service",
               "NETLEDGER_PREFIX": (tag := "ks" + uuid.uuid4().hex[:6]),
               # Its own dataplane namespaces, so a `make up` all-in-one can run beside it.
               "NETLEDGER_AIO_NETNS": f"{tag}-aio", "NETLEDGER_AIO_NETNS_PREFIX": f"{tag}-",
               **(extra_env or {})}
        args = [str(NETLEDGER), "up", "--detach"] + ([] if dataplane else ["--no-l2"])
        subprocess.run(args, env=env, check=True, cwd=var)
        wait_http(api_url + "/", timeout=60)
        yield KeystoneAllInOne(api_url=api_url, keystone=ks, directory=directory, env=env, var=var)
    finally:
        if env:
            subprocess.run([str(NETLEDGER), "down"], env=env, cwd=var, check=False)
        ks.stop()
        shutil.rmtree(var, ignore_errors=True)
