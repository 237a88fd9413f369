"""A real Keystone (the ``keystone`` package from PyPI) for integration tests.

It lives in its own virtualenv (``var/keystone-venv`` by default, or
``$NETLEDGER_KEYSTONE_VENV``) because its dependencies clash with ours; the fixture
creates it with ``pip install keystone`` when missing (cached for later runs), then
per session: a config with SQLite and fernet tokens, ``db_sync``, ``fernet_setup``,
``credential_setup``, ``bootstrap``, and ``serve.py`` on a free loopback port.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("NETLEDGER_KEYSTONE_VENV", ROOT / "var" / "keystone-venv"))
ADMIN_PASSWORD = "admin-secret"

CONF = """[DEFAULT]
log_file = {work}/keystone.log
[database]
connection = sqlite:///{work}/keystone.db
[token]
provider = fernet
expiration = {expiration}
[fernet_tokens]
key_repository = {work}/fernet-keys
[fernet_receipts]
key_repository = {work}/fernet-receipts
[credential]
key_repository = {work}/credential-keys
[cache]
enabled = false
"""


class KeystoneUnavailable(RuntimeError):
    """Installing or starting Keystone failed (the caller skips with this reason)."""


def ensure_venv() -> Path:
    """The keystone venv's python, installing it on first use."""
    python = VENV / "bin" / "python"
    if (VENV / "bin" / "keystone-manage").exists():
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=300)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "keystone"], check=True,
                       capture_output=True, timeout=1500)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        out = getattr(exc, "stderr", b"") or b""
        raise KeystoneUnavailable(f"pip install keystone failed: {out.decode(errors='replace')[-800:]}") from exc
    return python


@dataclass
class Keystone:
    url: str
    workdir: str
    proc: subprocess.Popen

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    # --- a tiny admin client over Keystone's own REST API
    def token(self, user: str, password: str, project: str | None, domain: str = "Default") -> tuple[str, dict]:
        auth = {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "password": password, "domain": {"name": domain}}}}}
        if project:
            auth["scope"] = {"project": {"name": project, "domain": {"name": domain}}}
        status, body, headers = self.call("POST", "/v3/auth/tokens", {"auth": auth})
        if status != 201:
            raise RuntimeError(f"token for {user}: {status} {body}")
        return headers["X-Subject-Token"], body["token"]

    def call(self, method: str, path: str, body=None, token: str | None = None, headers: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json", **({"X-Auth-Token": token} if token else {}), **(headers or {})}
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, (json.loads(raw) if raw else None), resp.headers
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, (json.loads(raw) if raw else None), exc.headers


def start(port: int, *, expiration: int = 3600) -> Keystone:
    python = ensure_venv()
    bindir = python.parent
    work = tempfile.mkdtemp(prefix="nl-keystone-")
    conf = Path(work) / "keystone.conf"
    conf.write_text(CONF.format(work=work, expiration=expiration))
    url = f"http://127.0.0.1:{port}"
    manage = [str(bindir / "keystone-manage"), "--config-file", str(conf)]
    user = ["--keystone-user", str(os.getuid()), "--keystone-group", str(os.getgid())]
    steps = [["db_sync"], ["fernet_setup", *user], ["credential_setup", *user],
             ["bootstrap", "--bootstrap-password", ADMIN_PASSWORD, "--bootstrap-admin-url", f"{url}/v3",
              "--bootstrap-public-url", f"{url}/v3", "--bootstrap-internal-url", f"{url}/v3",
              "--bootstrap-region-id", "RegionOne"]]
    for step in steps:
        res = subprocess.run(manage + step, capture_output=True, timeout=600)
        if res.returncode != 0:
            raise KeystoneUnavailable(f"keystone-manage {step[0]}: {res.stderr.decode(errors='replace')[-800:]}")
    env = {**os.environ, "OS_KEYSTONE_CONFIG_FILES": str(conf)}
    log = open(Path(work) / "serve.log", "ab")
    proc = subprocess.Popen([str(python), str(Path(__file__).with_name("serve.py")), str(port)], env=env,
                            stdout=log, stderr=log, start_new_session=True)
    ks = Keystone(url=url, workdir=work, proc=proc)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise KeystoneUnavailable(f"keystone exited: {(Path(work) / 'serve.log').read_text()[-800:]}")
        try:
            with urllib.request.urlopen(f"{url}/v3", timeout=2):
                return ks
        except OSError:
            time.sleep(0.3)
    ks.stop()
    raise KeystoneUnavailable("keystone did not answer within 120 s")
