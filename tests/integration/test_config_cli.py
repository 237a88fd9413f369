"""`netledger config check` as a user runs it: sources shown, bad configs refused."""

from __future__ import annotations

import os
import subprocess
import sys


def run(args: list[str], tmp_path, env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NETLEDGER_")}
    return subprocess.run([sys.executable, "-m", "netledger.cli", *args], cwd=tmp_path, capture_output=True,
                          text=True, env={**base, **(env or {})}, timeout=60)


def test_config_check_prints_effective_values_with_sources(tmp_path):
    conf = tmp_path / "nl.toml"
    conf.write_text('[netledger]\napi_port = 9797\nauth_strategy = "keystone"\n')
    out = run(["--config", str(conf), "--prefix", "flagp", "config", "check"], tmp_path,
              env={"NETLEDGER_AGENT_DOWN_TIME": "7"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert f"# configuration file: {conf}" in lines
    assert f"api_port = 9797  # file {conf}" in lines
    assert f'auth_strategy = "keystone"  # file {conf}' in lines
    assert "agent_down_time = 7.0  # env NETLEDGER_AGENT_DOWN_TIME" in lines
    assert 'prefix = "flagp"  # command line' in lines
    assert "api_workers = 1  # default" in lines


def test_misspelled_key_stops_the_process(tmp_path):
    conf = tmp_path / "nl.toml"
    conf.write_text('auth_strateg = "keystone"\n')
    for cmd in (["config", "check"], ["api", "--port", "1"]):
        out = run(["--config", str(conf), *cmd], tmp_path)
        assert out.returncode == 2
        assert str(conf) in out.stderr and "'auth_strateg'" in out.stderr


def test_bad_env_value_stops_the_process(tmp_path):
    out = run(["config", "check"], tmp_path, env={"NETLEDGER_API_PORT": "http"})
    assert out.returncode == 2 and "NETLEDGER_API_PORT" in out.stderr


def test_noauth_default_admin_is_flagged(tmp_path):
    out = run(["config", "check"], tmp_path, env={"NETLEDGER_API_HOST": "0.0.0.0"})
    assert out.returncode == 0
    assert "# warning: auth_strategy=noauth with noauth_default_admin" in out.stdout
    assert "binding to 127.0.0.1 instead" in out.stdout
