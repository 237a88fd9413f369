"""The all-in-one's command lines: every worker of the host, in its configured namespaces."""

from __future__ import annotations

import os

from netledger.config import Config
from netledger.deploy import allinone


def _cfg(tmp_path) -> Config:
    return Config(var_dir=str(tmp_path), api_port=19999, nats_port=14999, aio_netns="x-aio", aio_netns_prefix="x-a-")


def test_every_worker_runs_with_a_dataplane(tmp_path):
    cmds = allinone._service_cmds(_cfg(tmp_path), True, "unix:/db.sock")
    assert set(cmds) == {"topology", "api", "l2-agent", "l3-agent", "dhcp-agent", "lb-agent", "vpn-agent"}
    for name in ("l3-agent", "dhcp-agent", "lb-agent"):
        cmd = cmds[name]
        assert cmd[cmd.index("--host-netns") + 1] == "x-aio"
        assert cmd[cmd.index("--netns-prefix") + 1] == "x-a-"
    # charon lives in the l3-agent's router namespaces: the same prefix
    vpn = cmds["vpn-agent"]
    assert vpn[vpn.index("--netns-prefix") + 1] == "x-a-"
    assert cmds["api"][-2:] == ["--port", "19999"]
    assert all("nats://127.0.0.1:14999" in cmd for cmd in cmds.values())


def test_api_only_without_a_dataplane(tmp_path):
    assert set(allinone._service_cmds(_cfg(tmp_path), False, None)) == {"topology", "api"}


def test_plug_defaults_to_the_running_allinones_dataplane(tmp_path):
    cfg = _cfg(tmp_path)
    assert allinone.dataplane(cfg) is None
    os.makedirs(tmp_path / "ovs")
    (tmp_path / "ovs" / "db.sock").touch()
    assert allinone.dataplane(cfg) == ("x-aio", f"unix:{tmp_path}/ovs/db.sock")
