"""The real `openstack` CLI against the API (no Keystone: a clouds.yaml with auth_type none)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

CLOUDS_YAML = """\
clouds:
  netledger:
    auth_type: none
    auth:
      endpoint: {url}
    network_endpoint_override: {url}
    region_name: RegionOne
"""


@pytest.fixture(scope="module")
def osc(stack, tmp_path_factory):
    """Runs `openstack --os-cloud netledger ...`; returns parsed JSON when -f json is asked for."""
    cfg = tmp_path_factory.mktemp("osc") / "clouds.yaml"
    cfg.write_text(CLOUDS_YAML.format(url=stack.api_urls[0]))
    binary = str(Path(sys.executable).parent / "openstack")
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(cfg)}
    for key in [k for k in env if k.startswith("OS_") and k != "OS_CLIENT_CONFIG_FILE"]:
        del env[key]

    def run(*args: str, check: bool = True):
        proc = subprocess.run([binary, "--os-cloud", "netledger", *args], env=env, capture_output=True,
                              text=True, timeout=120)
        if check:
            assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        if "json" in args and proc.returncode == 0 and proc.stdout.strip():
            return json.loads(proc.stdout)
        return proc
    return run


def test_network_subnet_port_with_the_cli(osc):
    n1, s1, p1 = (f"{x}-{uuid.uuid4().hex[:6]}" for x in ("n1", "s1", "p1"))
    net = osc("network", "create", n1, "-f", "json")
    assert net["name"] == n1 and net["status"] == "ACTIVE"
    sub = osc("subnet", "create", "--network", n1, "--subnet-range", "10.90.0.0/24",
              "--allocation-pool", "start=10.90.0.2,end=10.90.0.50", s1, "-f", "json")
    assert sub["cidr"] == "10.90.0.0/24" and sub["gateway_ip"] == "10.90.0.1"
    port = osc("port", "create", "--network", n1, p1, "-f", "json")
    assert port["name"] == p1 and port["status"] == "DOWN"

    names = [p["Name"] for p in osc("port", "list", "--network", n1, "-f", "json")]
    assert names == [p1]
    assert [s["Name"] for s in osc("subnet", "list", "--network", n1, "-f", "json")] == [s1]
    shown = osc("port", "show", p1, "-f", "json")
    assert shown["id"] == port["id"] and shown["fixed_ips"][0]["ip_address"].startswith("10.90.0.")

    osc("network", "set", "--name", n1 + "x", "--description", "renamed", "--tag", "blue", n1)
    net = osc("network", "show", n1 + "x", "-f", "json")
    assert net["description"] == "renamed" and net["tags"] == ["blue"]
    osc("network", "unset", "--tag", "blue", n1 + "x")

    osc("subnet", "set", "--dns-nameserver", "8.8.8.8", "--allocation-pool", "start=10.90.0.100,end=10.90.0.110",
        "--host-route", "destination=172.16.0.0/16,gateway=10.90.0.254", s1)
    sub = osc("subnet", "show", s1, "-f", "json")
    assert sub["dns_nameservers"] == ["8.8.8.8"] and len(sub["allocation_pools"]) == 2
    osc("subnet", "unset", "--dns-nameserver", "8.8.8.8",
        "--host-route", "destination=172.16.0.0/16,gateway=10.90.0.254", s1)
    sub = osc("subnet", "show", s1, "-f", "json")
    assert sub["dns_nameservers"] == [] and sub["host_routes"] == []

    osc("port", "set", "--name", p1 + "x", "--device-owner", "compute:nova", "--binding-profile", "k=v",
        "--fixed-ip", "subnet=" + s1 + ",ip-address=10.90.0.77", "--tag", "t1", p1)
    port = osc("port", "show", p1 + "x", "-f", "json")
    assert port["device_owner"] == "compute:nova" and port["tags"] == ["t1"]
    assert "10.90.0.77" in [f["ip_address"] for f in port["fixed_ips"]]
    osc("port", "unset", "--binding-profile", "k", "--tag", "t1",
        "--fixed-ip", f"subnet={sub['id']},ip-address=10.90.0.77", p1 + "x")
    port = osc("port", "show", p1 + "x", "-f", "json")
    assert port["tags"] == [] and "10.90.0.77" not in [f["ip_address"] for f in port["fixed_ips"]]
    assert port["binding_profile"] == {}

    failed = osc("subnet", "delete", s1, check=False)
    assert failed.returncode != 0  # in use
    osc("port", "delete", p1 + "x")
    osc("subnet", "delete", s1)
    osc("network", "delete", n1 + "x")
    assert n1 + "x" not in [n["Name"] for n in osc("network", "list", "--tags", "blue", "-f", "json")]
    assert n1 + "x" not in [n["Name"] for n in osc("network", "list", "-f", "json")]


def test_cli_create_options(osc):
    name = f"opts-{uuid.uuid4().hex[:6]}"
    net = osc("network", "create", "--disable", "--mtu", "1400", "--tag", "a", "--tag", "b",
              "--description", "d", name, "-f", "json")
    assert net["admin_state_up"] is False and net["mtu"] == 1400 and sorted(net["tags"]) == ["a", "b"]
    sub = osc("subnet", "create", "--network", name, "--ip-version", "6", "--subnet-range", "2001:db8:90::/64",
              "--ipv6-ra-mode", "slaac", "--ipv6-address-mode", "slaac", name, "-f", "json")
    assert sub["ip_version"] == 6
    port = osc("port", "create", "--network", name, "--mac-address", "fa:16:3e:90:90:90",
               "--device", "vm-1", "--disable-port-security", name, "-f", "json")
    assert port["mac_address"] == "fa:16:3e:90:90:90" and port["port_security_enabled"] is False
    osc("port", "delete", name)
    osc("network", "delete", name)
