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


# --- podman with its CNI backend --------------------------------------------------------
class Podman:
    """podman with private root/runroot/tmpdir/config; nothing global is read or written."""

    def __init__(self, workdir: str) -> None:
        self.dir = workdir
        self.bin, self.net = os.path.join(workdir, "bin"), os.path.join(workdir, "net")
        os.makedirs(self.bin)
        os.makedirs(self.net)
        with open(os.path.join(self.bin, "netledger-cni"), "w") as f:       # what /opt/cni/bin holds
            f.write(f"#!/bin/sh\nexec {sys.executable} -m netledger.services.cni \"$@\"\n")
        os.chmod(os.path.join(self.bin, "netledger-cni"), 0o755)
        self.conf = os.path.join(workdir, "containers.conf")
        with open(self.conf, "w") as f:
            # Limits: the default nofile/nproc exceed this VM's hard limits; runc because
            # crun refuses hybrid cgroups (v1 controllers + v2) without systemd.
            f.write(f'[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
                    f'[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["{self.bin}", "/usr/lib/cni"]\n'
                    f'network_config_dir = "{self.net}"\n'
                    f'[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n')
        self.env = {**os.environ, "CONTAINERS_CONF": self.conf}
        self.base = ["podman", "--root", f"{workdir}/root", "--runroot", f"{workdir}/runroot", "--tmpdir",
                     f"{workdir}/tmp", "--storage-driver", "vfs"]

    def __call__(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run([*self.base, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} -> {proc.returncode}: {proc.stderr}")
        return proc

    def network(self, name: str, plugin_conf: dict) -> None:
        conflist = {"cniVersion": plugin_conf["cniVersion"], "name": name,
                    "plugins": [{k: v for k, v in plugin_conf.items() if k not in ("cniVersion", "name")}]}
        with open(os.path.join(self.net, f"{name}.conflist"), "w") as f:
            json.dump(conflist, f)

    def busybox_image(self, tag: str = "localhost/nl-busybox:latest") -> str:
        """No registry here: a root filesystem from the host's busybox (plus its libc), imported."""
        root = os.path.join(self.dir, "rootfs")
        os.makedirs(f"{root}/bin")
        shutil.copy("/bin/busybox", f"{root}/bin/busybox")
        for applet in sh("busybox", "--list").stdout.split():
            if applet != "busybox":
                os.symlink("busybox", f"{root}/bin/{applet}")
        for lib in sh("ldd", "/bin/busybox").stdout.split():
            if lib.startswith("/") and os.path.exists(lib):
                os.makedirs(root + os.path.dirname(lib), exist_ok=True)
                shutil.copy(lib, root + lib)
        for d in ("tmp", "etc", "proc", "sys", "dev"):
            os.makedirs(f"{root}/{d}", exist_ok=True)
        tar = os.path.join(self.dir, "rootfs.tar")
        sh("tar", "-C", root, "-cf", tar, ".")
        self("import", tar, tag)
        return tag

    def cleanup(self) -> None:
        self("rm", "-af", "-t", "0", check=False)        # runs CNI DEL for each container
        self("rmi", "-af", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def podman(cluster):
    if not shutil.which("podman") or not os.path.exists("/usr/lib/cni/loopback"):
        pytest.skip("podman / containernetworking-plugins not installed")
    pm = Podman(tempfile.mkdtemp(prefix=f"{cluster.prefix}-podman-"))
    try:
        yield pm
    finally:
        pm.cleanup()


async def create(lab: L3Lab, kind: str, **attrs) -> dict:
    return (await lab.api("POST", f"/v2.0/{kind.replace('_', '-')}s", {kind: attrs}))[kind]


def wget(pm: Podman, ctr: str, url: str) -> bool:
    # busybox's own timeout: this glibc build of wget crashes on -T
    return pm("exec", ctr, "timeout", "3", "wget", "-q", "-O", "-", url, check=False, timeout=20).stdout.strip() == "ok"


async def test_podman_containers_on_a_netledger_network(lab, podman):
    net, sub = await lab.lan("10.72.0.0/24")
    sg = await create(lab, "security_group", name=f"ctr-{lab.prefix}")
    await create(lab, "security_group_rule", security_group_id=sg["id"], direction="ingress", ethertype="IPv4",
                     protocol="icmp", remote_ip_prefix="0.0.0.0/0")
    ext, _ = await lab.external_network()
    router = await lab.create("router", name="r-ctr", external_gateway_info={"network_id": ext["id"]})
    await lab.api("PUT", f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    podman.network("nlnet", netconf(lab, net["name"], "1.0.0", security_groups=[sg["name"]]))
    image = await asyncio.to_thread(podman.busybox_image)

    ids, ips = [], []
    for name in ("c1", "c2"):
        out = await asyncio.to_thread(podman, "run", "-d", "--name", name, "--network", "nlnet", image,
                                      "sh", "-c", "echo ok > /tmp/index.html; exec sleep 3600")
        cid = out.stdout.strip()
        [port] = await ports_of(lab, cid)
        assert port["status"] == "ACTIVE" and port["security_groups"] == [sg["id"]]
        ids.append(cid)
        ips.append(port["fixed_ips"][0]["ip_address"])
    inspect = json.loads((await asyncio.to_thread(podman, "inspect", "c1")).stdout)[0]
    assert inspect["NetworkSettings"]["Networks"]["nlnet"]["IPAddress"] == ips[0]

    await lab.wait(lambda: podman("exec", "c1", "ping", "-c", "1", "-W", "1", ips[1], check=False).returncode == 0,
                   30, "c1 pings c2")
    assert podman("exec", "c2", "ping", "-c", "1", "-W", "1", ips[0], check=False).returncode == 0

    # TCP 8080 on c2: closed, opened by a rule, closed again when the rule goes
    await asyncio.to_thread(podman, "exec", "-d", "c2", "httpd", "-f", "-p", "8080", "-h", "/tmp")
    await lab.wait(lambda: podman("exec", "c2", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/",
                                  check=False).stdout.strip() == "ok", 20, "httpd up inside c2")
    url = f"http://{ips[1]}:8080/"
    assert not await asyncio.to_thread(wget, podman, "c1", url), "tcp/8080 must be closed before the rule"
    rule = await create(lab, "security_group_rule", security_group_id=sg["id"], direction="ingress",
                            ethertype="IPv4", protocol="tcp", port_range_min=8080, port_range_max=8080,
                            remote_ip_prefix="0.0.0.0/0")
    await lab.wait(lambda: wget(podman, "c1", url), 30, "tcp/8080 opened by the rule")
    await lab.api("DELETE", f"/v2.0/security-group-rules/{rule['id']}")
    await lab.wait(lambda: not wget(podman, "c1", url), 30, "tcp/8080 closed again")
    assert podman("exec", "c1", "ping", "-c", "1", "-W", "1", ips[1], check=False).returncode == 0, "control"

    # a floating IP reaches c1 from the "external" namespace
    [port1] = await ports_of(lab, ids[0])
    fip = await lab.create("floatingip", floating_network_id=ext["id"], port_id=port1["id"])
    await lab.wait(lambda: ping(lab.ext_ns, fip["floating_ip_address"]), 40, "external -> FIP of c1")

    # removing the containers runs DEL: their ports go
    await asyncio.to_thread(podman, "rm", "-f", "-t", "0", "c1", "c2")
    for cid in ids:
        assert await ports_of(lab, cid) == []


# --- LXC (busybox template), networked by its hooks ---------------------------------------
@pytest.fixture
def lxc_dir(cluster):
    if not shutil.which("lxc-create") or not os.path.exists("/usr/share/lxc/templates/lxc-busybox"):
        pytest.skip("lxc / lxc-templates not installed")
    path = tempfile.mkdtemp(prefix=f"{cluster.prefix}-lxc-")
    try:
        yield path
    finally:
        for name in os.listdir(path):
            if os.path.exists(os.path.join(path, name, "config")):
                sh("lxc-stop", "-P", path, "-n", name, "-k", check=False)       # post-stop hook runs DEL
                sh("lxc-destroy", "-P", path, "-n", name, check=False)
        shutil.rmtree(path, ignore_errors=True)


async def test_lxc_container_on_a_netledger_network(lab, lxc_dir):
    net, sub = await lab.lan("10.73.0.0/24")
    sg = await create(lab, "security_group", name=f"lxc-{lab.prefix}")
    await create(lab, "security_group_rule", security_group_id=sg["id"], direction="ingress", ethertype="IPv4",
                 protocol="icmp", remote_ip_prefix="0.0.0.0/0")
    conf = netconf(lab, net["id"], security_groups=[sg["id"]])
    conf_path = os.path.join(lxc_dir, "lxc-net.json")
    with open(conf_path, "w") as f:
        json.dump(conf, f)
    hook = f"{sys.executable} -m netledger.services.cni lxc-hook {conf_path}"
    base = os.path.join(lxc_dir, "base.conf")
    with open(base, "w") as f:
        f.write(f"lxc.net.0.type = empty\nlxc.hook.start-host = {hook}\nlxc.hook.post-stop = {hook}\n")
    name = f"{lab.prefix}-b1"
    await asyncio.to_thread(sh, "lxc-create", "-P", lxc_dir, "-n", name, "-t", "busybox", "-f", base, timeout=120)
    # The template's rcS runs udhcpc, whose deconfig flushes the address ADD set (this lab
    # runs no DHCP agent; on the all-in-one dnsmasq would hand out the same address).
    rcs = os.path.join(lxc_dir, name, "rootfs", "etc", "init.d", "rcS")
    with open(rcs) as f:
        script = f.read()
    with open(rcs, "w") as f:
        f.write(script.replace("/bin/udhcpc\n", ""))
    await asyncio.to_thread(sh, "lxc-start", "-P", lxc_dir, "-n", name, "-d", "-l", "INFO", "-o",
                            os.path.join(lxc_dir, "start.log"), timeout=120)
    [port] = await ports_of(lab, name)
    assert port["status"] == "ACTIVE" and port["security_groups"] == [sg["id"]]
    ip = port["fixed_ips"][0]["ip_address"]

    peer = f"{lab.cluster.prefix}-lxcpeer"      # a second container-like namespace, plugged by the plugin
    ns_add(peer)
    try:
        rc, res = await run("ADD", conf, cid="lxc-peer", netns=f"/run/netns/{peer}")
        assert rc == 0, res
        peer_ip = res["ips"][0]["address"].split("/")[0]
        attach = ["lxc-attach", "-P", lxc_dir, "-n", name, "--", "ping", "-c", "1", "-W", "1", peer_ip]
        await lab.wait(lambda: sh(*attach, check=False).returncode == 0, 30, "LXC container pings its peer")
        assert ping(peer, ip), "peer -> LXC container"
        assert (await run("DEL", conf, cid="lxc-peer", netns=f"/run/netns/{peer}")) == (0, None)
    finally:
        ns_delete(peer)
    await asyncio.to_thread(sh, "lxc-stop", "-P", lxc_dir, "-n", name, "-k", timeout=60)
    assert await ports_of(lab, name) == []


# --- a load balancer in front of container ports --------------------------------------------
@pytest.fixture
async def lb_lab(cluster, nats_server, prefix):
    from netledger.services.advanced.lb.lab import LbLab

    lab = LbLab(cluster, nats_server, prefix=prefix)
    try:
        await lab.start()
        yield lab
    finally:
        await lab.close()


async def test_load_balancer_over_container_ports(lb_lab):
    lab = lb_lab
    net, sub = await lab.lan("10.74.0.0/24")
    sg = await create(lab, "security_group", name=f"web-{lab.prefix}")
    await create(lab, "security_group_rule", security_group_id=sg["id"], direction="ingress", ethertype="IPv4",
                 protocol="tcp", port_range_min=8080, port_range_max=8080, remote_ip_prefix="0.0.0.0/0")
    conf = netconf(lab, net["id"], security_groups=[sg["id"]])
    names = [f"{lab.cluster.prefix}-lbc{i}" for i in range(3)]
    added: list[tuple[str, str]] = []
    try:
        ips = []
        for i, ns in enumerate(names):
            ns_add(ns)
            rc, res = await run("ADD", conf, cid=f"lbc{i}", netns=f"/run/netns/{ns}")
            assert rc == 0, res
            added.append((f"lbc{i}", ns))
            ips.append(res["ips"][0]["address"].split("/")[0])
        for i in (0, 1):
            lab.backend(names[i], ips[i], f"ctr{i}")
        lb = await lab.make("loadbalancer", "loadbalancers", name="lb-ctr", vip_subnet_id=sub["id"])
        li = await lab.make("listener", "listeners", loadbalancer_id=lb["id"], protocol="HTTP", protocol_port=80)
        pool = await lab.make("pool", "pools", listener_id=li["id"], protocol="HTTP", lb_algorithm="ROUND_ROBIN")
        for i in (0, 1):
            await lab.make("member", f"pools/{pool['id']}/members", address=ips[i], protocol_port=8080,
                           subnet_id=sub["id"])
        url = f"http://{lb['vip_address']}/"
        await lab.wait(lambda: curl_ns(names[2], url) in ("ctr0", "ctr1"), 60, "container client reaches the VIP")
        seen = {await asyncio.to_thread(curl_ns, names[2], url) for _ in range(6)}
        assert seen == {"ctr0", "ctr1"}, seen
    finally:
        for cid, ns in added:
            await run("DEL", conf, cid=cid, netns=f"/run/netns/{ns}")
        for ns in names:
            ns_delete(ns)


def curl_ns(ns: str, url: str) -> str | None:
    r = sh("ip", "netns", "exec", ns, "curl", "-s", "-m", "3", url, check=False, timeout=10)
    return r.stdout.strip() if r.returncode == 0 else None
