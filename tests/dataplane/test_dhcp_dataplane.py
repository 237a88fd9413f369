"""DHCP with real packets: dnsmasq in qdhcp namespaces on simulated host 1, instances
(busybox udhcpc) on both hosts, L2 by the real L2 workers, intents written to KV.

Safety: everything lives in the cluster's ``nlt<hex>-*`` namespaces (the DHCP worker's
namespaces are ``<cluster prefix>-h1-qdhcp-<net>``); dnsmasq and the metadata proxies are
stopped by pid (by the worker's removal plan, then by the cluster's namespace sweep).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time

import msgspec
import pytest

from netledger.libs.events.dhcp import DhcpHost, DhcpNetwork, DhcpSubnet, dhcp_key
from netledger.libs.events.intents import L2Network, L2Port
from netledger.libs.events.port import ExtraDhcpOpt, FixedIp
from netledger.libs.events.subjects import host_token
from netledger.libs.events.subnet import HostRoute
from netledger.services.dhcp.agent import build_worker, dhcp_bucket
from netledger.services.dhcp.config import DhcpAgentConfig
from netledger.services.dhcp.driver_host import proc_argv
from netledger.services.l2.driver_plug import PlugSpec, plug

pytestmark = pytest.mark.dataplane
SCRIPT = """#!/bin/sh
# udhcpc event script: print what we were given; configure the interface when APPLY=1.
[ "$1" = bound ] || exit 0
for v in ip subnet router dns staticroutes mtu hostname domain ntpsrv bootfile serverid; do
  eval "x=\\$$v"; [ -n "$x" ] && echo "$v=$x"
done
[ "$APPLY" = 1 ] || exit 0
ip addr add "$ip/$mask" dev "$interface"
set -- $staticroutes
while [ $# -ge 2 ]; do ip route replace "$1" via "$2" dev "$interface"; shift 2; done
"""


class DhcpEnv:
    """A DHCP worker on host 0 of the cluster, plus helpers for networks and instances."""

    def __init__(self, l2env, tmp_path) -> None:
        self.l2, self.tmp = l2env, tmp_path
        self.host = l2env.host(0)
        # dnsmasq reads its files as user nobody: a world-searchable dir, not pytest's 0700 tmp.
        self.state = tempfile.mkdtemp(prefix=f"{l2env.cluster.prefix}-dhcp-")
        os.chmod(self.state, 0o755)
        self.cfg = DhcpAgentConfig(host=self.host.name, ovsdb=self.host.ovsdb, host_netns=self.host.netns,
                                   state_dir=self.state, netns_prefix=f"{self.host.netns}-",
                                   resync_interval=1.0, heartbeat_interval=1.0)
        self.script = tmp_path / "udhcpc.sh"
        self.script.write_text(SCRIPT)
        self.script.chmod(self.script.stat().st_mode | stat.S_IEXEC)
        self.dhcp_status: dict[str, str] = {}

    async def start(self) -> None:
        self.kv = await self.l2.bus.js.key_value(dhcp_bucket(self.l2.prefix))
        self.worker = build_worker(self.l2.bus, self.cfg)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.worker.run(self.stop))
        await self.l2.bus.nc.subscribe(f"{self.l2.prefix}.status.port.>", cb=self._on_status)
        await asyncio.wait_for(self.worker.replayed.wait(), 10)

    async def _on_status(self, msg) -> None:
        from netledger.libs.events import codec

        ev = codec.decode(msg.data).event
        if getattr(ev, "block", "") == "dhcp":
            self.dhcp_status[ev.port_id] = ev.status

    async def close(self) -> None:
        for net in list(self.worker.intents):
            await self.kv.delete(dhcp_key(host_token(self.host.name), net))
        await eventually(lambda: not self.worker.driver.networks_present(), 20, "DHCP namespaces removed")
        self.stop.set()
        await asyncio.wait_for(self.task, 10)
        shutil.rmtree(self.state, ignore_errors=True)

    # --- intents
    def meshed(self, l2: L2Network) -> L2Network:
        """Tunnels to every simulated host (what topology computes from bound ports)."""
        return msgspec.structs.replace(l2, peers=tuple(h.tunnel_ip for h in self.l2.cluster.hosts))

    async def serve(self, net: DhcpNetwork, l2: L2Network) -> None:
        """DHCP intent on host 0 and the L2 intents of its DHCP port."""
        l2 = self.meshed(l2)
        await self.l2.put(0, l2)
        await self.l2.put(0, L2Port(port_id=net.port.port_id, network_id=l2.network_id,
                                    mac_address=net.port.mac_address, network_type=l2.network_type,
                                    segmentation_id=l2.segmentation_id, revision_number=1))
        await self.kv.put(dhcp_key(host_token(self.host.name), net.network_id), msgspec.json.encode(net))

    async def remove(self, network_id: str) -> None:
        await self.kv.delete(dhcp_key(host_token(self.host.name), network_id))

    def layout(self, net: DhcpNetwork):
        return self.cfg.layout(net.network_id, net.port.port_id)

    def dnsmasq_pid(self, net: DhcpNetwork) -> int:
        """0 while the pid file is absent or being written."""
        try:
            with open(self.layout(net).paths.pid) as fh:
                return int(fh.read().strip() or 0)
        except FileNotFoundError:
            return 0

    async def wait_served(self, net: DhcpNetwork, port_ids=(), timeout: float = 30) -> None:
        await eventually(lambda: all(self.dhcp_status.get(p) == "ACTIVE" for p in port_ids)
                         and self.dnsmasq_pid(net) and proc_argv(self.dnsmasq_pid(net)) is not None,
                         timeout, "dnsmasq serving")

    # --- instances
    async def instance(self, i: int, l2: L2Network, port_id: str, mac: str, ipv6: bool = False) -> str:
        """A namespace plugged on host i (no address: DHCP gives it one), wired by L2."""
        h = self.l2.host(i)
        netns = f"{self.l2.cluster.prefix}-vm-{port_id[:8]}"
        await asyncio.to_thread(plug, PlugSpec(port_id=port_id, netns=netns, mac=mac, mtu=l2.mtu,
                                               host_netns=h.netns, ovsdb=h.ovsdb))
        self.l2.plugged.append((h, port_id, netns))
        subprocess.run(["ip", "netns", "exec", netns, "sysctl", "-qw",
                        f"net.ipv6.conf.all.disable_ipv6={int(not ipv6)}"])
        l2 = self.meshed(l2)
        await self.l2.put(i, l2)
        await self.l2.put(i, L2Port(port_id=port_id, network_id=l2.network_id, mac_address=mac,
                                    network_type=l2.network_type, segmentation_id=l2.segmentation_id,
                                    revision_number=1))
        await self.l2.wait_status(port_id, "ACTIVE")
        return netns

    async def udhcpc(self, netns: str, *, apply: bool = False, tries: int = 3) -> dict[str, str]:
        """Run busybox udhcpc once; the lease's parameters ({} when nothing was offered)."""
        cmd = ["ip", "netns", "exec", netns, "env", f"APPLY={int(apply)}", "busybox", "udhcpc", "-i", "eth0",
               "-n", "-q", "-f", "-t", str(tries), "-T", "1", "-A", "1", "-O", "staticroutes", "-O", "mtu",
               "-O", "ntpsrv", "-s", str(self.script)]
        proc = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True, timeout=60)
        return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


async def eventually(check, timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.1)


@pytest.fixture
async def dhcpenv(l2env, tmp_path):
    env = DhcpEnv(l2env, tmp_path)
    await env.start()
    try:
        yield env
    finally:
        await env.close()


def uid(tag: str, i: int) -> str:
    return f"{tag}{i:0{8 - len(tag)}d}-0000-4000-8000-000000000000"


def mac(tag: int, i: int) -> str:
    return f"fa:16:3e:{tag:02x}:00:{i:02x}"


def network(tag: str, n: int, cidr_prefix: str, seg: int, hosts=(), dns=("10.99.0.53",), routes=()) -> tuple:
    """A DHCP intent (DHCP port .2) and its L2 network; ``hosts``: (index, mac, extra opts)."""
    sub = uid(f"{tag}s", 1)
    dport = DhcpHost(port_id=uid(f"{tag}d", 1), mac_address=mac(n, 2),
                     fixed_ips=(FixedIp(subnet_id=sub, ip_address=f"{cidr_prefix}.2"),))
    net = DhcpNetwork(network_id=uid(f"{tag}n", 1), mtu=1400, port=dport,
                      subnets=(DhcpSubnet(subnet_id=sub, cidr=f"{cidr_prefix}.0/24", gateway_ip=f"{cidr_prefix}.1",
                                          dns_nameservers=dns, host_routes=routes),),
                      hosts=tuple(entry(tag, sub, cidr_prefix, *h) for h in hosts))
    return net, L2Network(network_id=net.network_id, network_type="vxlan", segmentation_id=seg, mtu=1400)


def entry(tag: str, sub: str, prefix: str, i: int, hw: str, opts=(), device_id: str = "") -> DhcpHost:
    return DhcpHost(port_id=uid(f"{tag}p", i), mac_address=hw, hostname=f"host-{prefix.replace('.', '-')}-{i}",
                    device_id=device_id or f"vm-{tag}-{i}", project_id="proj",
                    fixed_ips=(FixedIp(subnet_id=sub, ip_address=f"{prefix}.{i}"),), extra_dhcp_opts=tuple(opts),
                    revision_number=1)


def with_hosts(net: DhcpNetwork, hosts: tuple[DhcpHost, ...]) -> DhcpNetwork:
    return msgspec.structs.replace(net, hosts=hosts)


async def test_instance_gets_exactly_its_address_gateway_routes_mtu(dhcpenv):
    ntp = ExtraDhcpOpt(opt_name="ntp-server", opt_value="10.61.0.123", ip_version=4)
    net, l2 = network("ga", 1, "10.61.0", 611, hosts=[(23, mac(1, 23), (ntp,))],
                      routes=(HostRoute(destination="192.168.77.0/24", nexthop="10.61.0.254"),))
    await dhcpenv.serve(net, l2)
    await dhcpenv.wait_served(net, [net.hosts[0].port_id])
    vm = await dhcpenv.instance(1, l2, net.hosts[0].port_id, mac(1, 23))     # the other host: over VXLAN
    lease = await dhcpenv.udhcpc(vm)
    assert lease["ip"] == "10.61.0.23" and lease["subnet"] == "255.255.255.0", lease
    assert lease["router"] == "10.61.0.1" and lease["dns"] == "10.99.0.53" and lease["mtu"] == "1400"
    assert lease["staticroutes"] == ("169.254.169.254/32 10.61.0.2 192.168.77.0/24 10.61.0.254 "
                                     "0.0.0.0/0 10.61.0.1"), lease
    assert lease["ntpsrv"] == "10.61.0.123" and lease["hostname"] == "host-10-61-0-23"
    stranger = await dhcpenv.instance(1, l2, uid("gax", 9), mac(1, 99))     # wired, but no reservation
    assert await dhcpenv.udhcpc(stranger, tries=2) == {}


async def test_ports_come_and_go_without_restarting_dnsmasq(dhcpenv):
    net, l2 = network("cg", 2, "10.62.0", 612, hosts=[(10, mac(2, 10))])
    await dhcpenv.serve(net, l2)
    await dhcpenv.wait_served(net, [net.hosts[0].port_id])
    pid = dhcpenv.dnsmasq_pid(net)
    vm_a = await dhcpenv.instance(0, l2, net.hosts[0].port_id, mac(2, 10))
    assert (await dhcpenv.udhcpc(vm_a))["ip"] == "10.62.0.10"
    # A port created after dnsmasq started gets its lease.
    later = entry("cg", net.subnets[0].subnet_id, "10.62.0", 11, mac(2, 11))
    await dhcpenv.serve(with_hosts(net, net.hosts + (later,)), l2)
    await dhcpenv.wait_served(net, [later.port_id])
    vm_b = await dhcpenv.instance(1, l2, later.port_id, mac(2, 11))
    assert (await dhcpenv.udhcpc(vm_b))["ip"] == "10.62.0.11"
    # Port A deleted: its MAC gets nothing; its address goes to a new port's MAC only.
    reuse = entry("cg", net.subnets[0].subnet_id, "10.62.0", 10, mac(2, 12))
    reuse = msgspec.structs.replace(reuse, port_id=uid("cgr", 1))
    await dhcpenv.serve(with_hosts(net, (later, reuse)), l2)
    await dhcpenv.wait_served(net, [reuse.port_id])
    assert await dhcpenv.udhcpc(vm_a, tries=2) == {}, "a deleted port's MAC must not get its old address"
    vm_c = await dhcpenv.instance(1, l2, reuse.port_id, mac(2, 12))
    assert (await dhcpenv.udhcpc(vm_c))["ip"] == "10.62.0.10"
    assert dhcpenv.dnsmasq_pid(net) == pid, "port changes reload (SIGHUP), never restart"
    # A subnet change (DNS) is applied too, still without a restart.
    changed = msgspec.structs.replace(with_hosts(net, (later, reuse)), subnets=(
        msgspec.structs.replace(net.subnets[0], dns_nameservers=("10.99.0.54",)),))
    await dhcpenv.serve(changed, l2)
    await eventually(lambda: "10.99.0.54" in open(dhcpenv.layout(net).paths.opts).read(), 10, "opts rewritten")
    await asyncio.sleep(0.3)
    assert (await dhcpenv.udhcpc(vm_b))["dns"] == "10.99.0.54"
    assert dhcpenv.dnsmasq_pid(net) == pid
    # DHCP disabled for the network (intent deleted): server, port and namespace go.
    await dhcpenv.remove(net.network_id)
    lay = dhcpenv.layout(net)
    await eventually(lambda: not os.path.exists(f"/run/netns/{lay.netns}"), 15, "qdhcp namespace removed")
    assert proc_argv(pid) is None
    assert lay.interface not in dhcpenv.host.ovs.vsctl("list-ports", "br-int")


async def two_overlapping(dhcpenv) -> list[tuple[DhcpNetwork, L2Network, str]]:
    """Networks A and B, both 10.63.0.0/24 with the DHCP port at .2 and an instance at .10."""
    out = []
    for tag, n, seg, dns in (("ova", 3, 631, "10.99.0.61"), ("ovb", 4, 632, "10.99.0.62")):
        net, l2 = network(tag, n, "10.63.0", seg, hosts=[(10, mac(n, 10))], dns=(dns,))
        await dhcpenv.serve(net, l2)
        out.append((net, l2, dns))
    for net, _, _ in out:
        await dhcpenv.wait_served(net, [net.hosts[0].port_id])
    return out


async def test_same_cidr_networks_each_get_their_own_isolated_server(dhcpenv):
    (a, la, dns_a), (b, lb, dns_b) = await two_overlapping(dhcpenv)
    assert dhcpenv.layout(a).netns != dhcpenv.layout(b).netns
    vm_a = await dhcpenv.instance(1, la, a.hosts[0].port_id, mac(3, 10))
    vm_b = await dhcpenv.instance(1, lb, b.hosts[0].port_id, mac(4, 10))
    lease_a, lease_b = await dhcpenv.udhcpc(vm_a), await dhcpenv.udhcpc(vm_b)
    assert (lease_a["ip"], lease_a["dns"]) == ("10.63.0.10", dns_a)
    assert (lease_b["ip"], lease_b["dns"]) == ("10.63.0.10", dns_b)
    # B's reservation is invisible from network A.
    intruder = await dhcpenv.instance(0, la, uid("ovx", 1), mac(4, 10).replace(":10", ":11"))
    assert await dhcpenv.udhcpc(intruder, tries=2) == {}


async def test_metadata_identifies_each_instance_on_overlapping_networks(dhcpenv, dp):
    dp.require("curl")
    nets = await two_overlapping(dhcpenv)
    for n, (net, l2, _) in zip((3, 4), nets):
        vm = await dhcpenv.instance(1, l2, net.hosts[0].port_id, mac(n, 10))
        lease = await dhcpenv.udhcpc(vm, apply=True)
        assert lease["ip"] == "10.63.0.10"
        base = "http://169.254.169.254"
        meta = json.loads(await curl(vm, f"{base}/openstack/latest/meta_data.json"))
        assert meta["uuid"] == net.hosts[0].device_id and meta["meta"]["port_id"] == net.hosts[0].port_id
        assert meta["meta"]["network_id"] == net.network_id and meta["name"] == net.hosts[0].hostname
        assert await curl(vm, f"{base}/latest/meta-data/instance-id") == net.hosts[0].device_id
        netdata = json.loads(await curl(vm, f"{base}/openstack/latest/network_data.json"))
        assert netdata["links"][0]["ethernet_mac_address"] == mac(n, 10)


async def curl(ns: str, url: str) -> str:
    for _ in range(30):
        proc = await asyncio.to_thread(subprocess.run, ["ip", "netns", "exec", ns, "curl", "-sf", "-m", "3", url],
                                       capture_output=True, text=True)
        if proc.returncode == 0:
            return proc.stdout
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} from {ns}: {proc.returncode} {proc.stderr}")


DHCP6_PROBE = """
import json, os, socket, struct, sys
iface, mac, mode = sys.argv[1], sys.argv[2], sys.argv[3]
def opt(code, data): return struct.pack("!HH", code, len(data)) + data
def walk(buf):
    i = 0
    while i + 4 <= len(buf):
        code, ln = struct.unpack("!HH", buf[i:i + 4]); yield code, buf[i + 4:i + 4 + ln]; i += 4 + ln
xid = os.urandom(3)
base = opt(1, struct.pack("!HH", 3, 1) + bytes.fromhex(mac.replace(":", ""))) + opt(6, b"\\0\\x17") + opt(8, b"\\0\\0")
msg = (b"\\x01" + xid + base + opt(3, b"\\0\\0\\0\\1" + bytes(8)) + opt(14, b"")) if mode == "stateful" \\
    else (b"\\x0b" + xid + base)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
s.bind(("::", 546)); s.settimeout(1.0)
out = {"type": None, "addresses": [], "dns": []}
for _ in range(6):
    s.sendto(msg, ("ff02::1:2", 547, 0, socket.if_nametoindex(iface)))
    try:
        data = s.recv(4096)
    except socket.timeout:
        continue
    if data[1:4] != xid:
        continue
    out["type"] = data[0]
    for code, body in walk(data[4:]):
        if code == 3:
            out["addresses"] += [socket.inet_ntop(socket.AF_INET6, b[:16]) for c, b in walk(body[12:]) if c == 5]
        if code == 23:
            out["dns"] += [socket.inet_ntop(socket.AF_INET6, body[k:k + 16]) for k in range(0, len(body), 16)]
    break
print(json.dumps(out))
"""


async def dhcp6(dhcpenv, netns: str, hw: str, mode: str) -> dict:
    """A raw DHCPv6 exchange (busybox here has no udhcpc6): Solicit with rapid commit
    (stateful) or Information-request (stateless), sent from the instance namespace."""
    probe = dhcpenv.tmp / "dhcp6probe.py"
    probe.write_text(DHCP6_PROBE)
    await eventually(lambda: "tentative" not in subprocess.run(
        ["ip", "-n", netns, "-6", "addr", "show", "dev", "eth0"], capture_output=True, text=True).stdout
        and "fe80" in subprocess.run(["ip", "-n", netns, "-6", "addr", "show", "dev", "eth0"],
                                     capture_output=True, text=True).stdout, 10, "link-local address ready")
    proc = await asyncio.to_thread(subprocess.run, ["ip", "netns", "exec", netns, "python3", str(probe), "eth0", hw,
                                                    mode], capture_output=True, text=True, timeout=30)
    return json.loads(proc.stdout or "{}")


@pytest.mark.parametrize("mode", ["dhcpv6-stateful", "dhcpv6-stateless"])
async def test_ipv6_stateful_address_and_stateless_options(dhcpenv, mode):
    sub6 = uid("v6x", 1)
    net, l2 = network("v6", 5, "10.65.0", 651, hosts=[(10, mac(5, 10))])
    v6 = DhcpSubnet(subnet_id=sub6, cidr="2001:db8:65::/64", ip_version=6, gateway_ip="2001:db8:65::1",
                    ipv6_address_mode=mode, ipv6_ra_mode=mode, dns_nameservers=("2001:db8:65::53",))
    dport = msgspec.structs.replace(net.port, fixed_ips=net.port.fixed_ips + (
        FixedIp(subnet_id=sub6, ip_address="2001:db8:65::2"),))
    host = msgspec.structs.replace(net.hosts[0], fixed_ips=net.hosts[0].fixed_ips + (
        FixedIp(subnet_id=sub6, ip_address="2001:db8:65::10"),))
    net = msgspec.structs.replace(net, port=dport, subnets=net.subnets + (v6,), hosts=(host,))
    await dhcpenv.serve(net, l2)
    await dhcpenv.wait_served(net, [host.port_id])
    vm = await dhcpenv.instance(1, l2, host.port_id, mac(5, 10), ipv6=True)
    got = await dhcp6(dhcpenv, vm, mac(5, 10), "stateful" if mode == "dhcpv6-stateful" else "stateless")
    assert got.get("type") == 7, f"a DHCPv6 Reply: {got}"
    assert got["dns"] == ["2001:db8:65::53"]
    assert got["addresses"] == (["2001:db8:65::10"] if mode == "dhcpv6-stateful" else [])
    assert (await dhcpenv.udhcpc(vm))["ip"] == "10.65.0.10", "IPv4 on the same network still works"


async def test_restart_writes_nothing_and_a_killed_dnsmasq_comes_back(dhcpenv):
    net, l2 = network("rs", 6, "10.67.0", 671, hosts=[(10, mac(6, 10))])
    await dhcpenv.serve(net, l2)
    await dhcpenv.wait_served(net, [net.hosts[0].port_id])
    pid = dhcpenv.dnsmasq_pid(net)
    dhcpenv.stop.set()
    await asyncio.wait_for(dhcpenv.task, 10)
    await dhcpenv.start()                                   # a new worker, same host
    await asyncio.wait_for(dhcpenv.worker.synced.wait(), 15)
    assert dhcpenv.worker.driver.writes == 0 and dhcpenv.dnsmasq_pid(net) == pid, "restart: plan [] everywhere"
    os.kill(pid, 9)                                         # out-of-band damage: the resync repairs it
    await eventually(lambda: dhcpenv.dnsmasq_pid(net) not in (0, pid)
                     and proc_argv(dhcpenv.dnsmasq_pid(net)) is not None, 15, "dnsmasq restarted")
    vm = await dhcpenv.instance(0, l2, net.hosts[0].port_id, mac(6, 10))
    assert (await dhcpenv.udhcpc(vm))["ip"] == "10.67.0.10", "leases survive in the lease file"
