"""netledger-cni driven as runtimes drive it: env vars + config on stdin, against a real stack.

The stack is the L3 lab (API + topology subprocesses, an L2 and an L3 worker per simulated
host in this process, an "external" namespace on 203.0.113.0/24). "This machine" is
simulated host 0: the plugin's config names its namespace (host_netns) and private OVS,
so container veths land on that br-int, never on the host's.
First test: the spec, command by command, with every error case. Second: podman (CNI
backend, temp root/runroot/config, a busybox image built here and `podman import`ed).
Safety: namespaces are ``<cluster prefix>-...``; podman state lives in a temp dir and every
container is removed (`rm -f`, which runs DEL) even on failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from netledger.deploy.hosts import ns_add, ns_delete
from netledger.services.cni import spec
from netledger.services.l3.lab import L3Lab, ping, sh

pytestmark = pytest.mark.dataplane
PLUGIN = [sys.executable, "-m", "netledger.services.cni"]


@pytest.fixture
async def lab(cluster, nats_server, prefix):
    lab = L3Lab(cluster, nats_server, prefix=prefix)
    try:
        await lab.start()
        yield lab
    finally:
        await lab.close()


def netconf(lab: L3Lab, network: str, version: str = "1.1.0", **extra) -> dict:
    h = lab.cluster.hosts[0]
    return {"cniVersion": version, "name": "nl", "type": "netledger-cni", "network": network,
            "api": {"url": lab.api_url}, "host": h.name, "host_netns": h.netns, "ovsdb": h.ovsdb,
            "active_timeout": 60, **extra}


def invoke(command: str, conf: dict | bytes, *, cid: str = "", netns: str = "", ifname: str = "eth0",
           env: dict | None = None) -> tuple[int, dict | None]:
    """One plugin run, exactly as a runtime does it (a fresh process per command)."""
    e = {"PATH": os.environ["PATH"], "CNI_COMMAND": command, "CNI_PATH": "/opt/cni/bin"}
    if cid:
        e.update(CNI_CONTAINERID=cid, CNI_IFNAME=ifname, CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=x")
    if netns:
        e["CNI_NETNS"] = netns
    e.update(env or {})
    stdin = conf if isinstance(conf, bytes) else json.dumps(conf).encode()
    proc = subprocess.run(PLUGIN, input=stdin, env=e, capture_output=True, timeout=120)
    assert b"Traceback" not in proc.stderr + proc.stdout, proc.stderr.decode()
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else None


async def run(*args, **kw):
    return await asyncio.to_thread(invoke, *args, **kw)


async def ports_of(lab: L3Lab, cid: str) -> list[dict]:
    return (await lab.api("GET", f"/v2.0/ports?device_id={cid}"))["ports"]


async def test_cni_commands_and_errors(lab):
    net, sub = await lab.lan("10.71.0.0/24")
    h = lab.cluster.hosts[0]
    ns = [f"{lab.cluster.prefix}-cni{i}" for i in range(2)]
    paths = [f"/run/netns/{n}" for n in ns]
    for n in ns:
        ns_add(n)
    try:
        conf = netconf(lab, net["name"])
        rc, out = await run("VERSION", b'{"cniVersion": "1.0.0"}')
        assert rc == 0 and out["supportedVersions"] == ["1.0.0", "1.1.0"]
        assert (await run("STATUS", conf))[0] == 0

        rc, res = await run("ADD", conf, cid="ctr-a", netns=paths[0])
        assert rc == 0, res
        [port] = await ports_of(lab, "ctr-a")
        assert port["status"] == "ACTIVE" and port["binding:host_id"] == h.name
        assert port["device_owner"] == "compute:container"
        ip = port["fixed_ips"][0]["ip_address"]
        assert res["ips"] == [{"address": f"{ip}/24", "interface": 1, "gateway": sub["gateway_ip"]}]
        assert res["interfaces"][1] == {"name": "eth0", "mac": port["mac_address"], "sandbox": paths[0],
                                        "mtu": net["mtu"]}
        assert res["routes"] == [{"dst": "0.0.0.0/0", "gw": sub["gateway_ip"]}]
        link = sh("ip", "-n", ns[0], "-j", "addr", "show", "dev", "eth0").stdout
        assert port["mac_address"] in link and f'"local":"{ip}"' in link.replace(" ", "")

        rc, again = await run("ADD", conf, cid="ctr-a", netns=paths[0])       # repeated ADD adopts
        assert rc == 0 and again == res and len(await ports_of(lab, "ctr-a")) == 1

        # second container on a fixed IP, 1.0.0 config: both talk through br-int
        rc, res_b = await run("ADD", netconf(lab, net["id"], "1.0.0", ip="10.71.0.77"), cid="ctr-b",
                              netns=paths[1], ifname="net1")
        assert rc == 0, res_b
        assert res_b["cniVersion"] == "1.0.0" and res_b["ips"][0]["address"] == "10.71.0.77/24"
        assert "mtu" not in res_b["interfaces"][1]
        await lab.wait(lambda: ping(ns[0], "10.71.0.77"), 30, "container a -> b")

        prev = {**conf, "prevResult": res}
        assert (await run("CHECK", prev, cid="ctr-a", netns=paths[0])) == (0, None)
        sh("ip", "-n", ns[0], "addr", "flush", "dev", "eth0")                  # tampered: CHECK says so
        rc, err = await run("CHECK", prev, cid="ctr-a", netns=paths[0])
        assert rc == 1 and err["code"] == spec.E_DATAPLANE and f"{ip}/24" in err["details"]
        rc, err = await run("CHECK", conf, cid="ctr-nobody", netns=paths[0])
        assert rc == 1 and err["code"] == spec.E_API
        assert (await run("ADD", conf, cid="ctr-a", netns=paths[0]))[0] == 0   # ADD repairs
        assert (await run("CHECK", prev, cid="ctr-a", netns=paths[0])) == (0, None)

        # errors: each with its spec code, nothing left behind
        cases = [
            (("ADD", netconf(lab, "no-such-net")), spec.E_CONFIG),
            (("ADD", {**conf, "cniVersion": "0.4.0"}), spec.E_VERSION),
            (("ADD", {**conf, "ipam": {"type": "host-local"}}), spec.E_UNSUPPORTED),
            (("ADD", b"{"), spec.E_DECODE),
            (("ADD", {**conf, "api": {"url": "http://127.0.0.1:1"}}), spec.E_AGAIN),
            (("GC", {**conf, "cniVersion": "1.0.0"}), spec.E_VERSION),
            (("STATUS", netconf(lab, "no-such-net")), spec.E_UNAVAILABLE),
        ]
        for (command, c), code in cases:
            rc, err = await run(command, c, cid="ctr-err", netns=paths[1])
            assert (rc, err["code"]) == (1, code), (command, err)
        rc, err = await run("ADD", conf, cid="ctr-err", netns=f"/run/netns/{lab.cluster.prefix}-gone")
        assert (rc, err["code"]) == (1, spec.E_CONTAINER)
        rc, err = await run("ADD", conf, env={"CNI_CONTAINERID": "ctr-err"})
        assert (rc, err["code"]) == (1, spec.E_ENV)
        rc, err = await run("ADD", {**conf, "security_groups": ["no-such-sg"]}, cid="ctr-err", netns=paths[1],
                            ifname="eth9")
        assert (rc, err["code"]) == (1, spec.E_CONFIG)
        assert await ports_of(lab, "ctr-err") == []

        # GC: only ctr-a is still known to the "runtime"; ctr-b's port and veth go
        gc = {**conf, "cni.dev/valid-attachments": [{"containerID": "ctr-a", "ifname": "eth0"}]}
        assert (await run("GC", gc)) == (0, None)
        assert await ports_of(lab, "ctr-b") == [] and len(await ports_of(lab, "ctr-a")) == 1
        assert sh("ip", "-n", ns[1], "link", "show", "net1", check=False).returncode != 0

        for _ in range(2):                                                      # DEL twice: both succeed
            assert (await run("DEL", conf, cid="ctr-a", netns=paths[0])) == (0, None)
        assert await ports_of(lab, "ctr-a") == []
        assert sh("ip", "-n", ns[0], "link", "show", "eth0", check=False).returncode != 0
        assert "tap" + port["id"][:11] not in h.ovs.vsctl("list-ports", "br-int")
        assert (await run("DEL", conf, cid="ctr-a")) == (0, None)               # no netns at all
        assert (await run("DEL", netconf(lab, "no-such-net"), cid="ctr-a")) == (0, None)

        for _ in range(3):                                                      # repeated ADD/DEL cycles
            assert (await run("ADD", conf, cid="ctr-c", netns=paths[0]))[0] == 0
            assert (await run("DEL", conf, cid="ctr-c", netns=paths[0])) == (0, None)
        assert await ports_of(lab, "ctr-c") == []
    finally:
        for n in ns:
            ns_delete(n)
