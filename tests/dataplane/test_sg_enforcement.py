"""Security groups enforced by the OVS workers with real packets, two simulated hosts.

Intents are written straight into the KV bucket (what topology compiles; the API ->
intent path is covered by unit and integration tests). A (host 0) and B (host 1) are
in group "web", C (host 1) in group "other". Every "blocked" check is preceded by a
positive control in the same state, so a dead network cannot pass for a filter.
"""

from __future__ import annotations

import asyncio
import subprocess
import time

import msgspec
import pytest

from netledger.libs.events.intents import (
    AllowedPair, L2Network, L2Port, SecurityGroupIntent, SgMembers, SgRuleIntent, sg_key, sg_members_key,
)
from netledger.libs.events.subjects import host_token

pytestmark = pytest.mark.dataplane

NET = L2Network(network_id="net-sg", network_type="vxlan", segmentation_id=2001)
EGRESS = SgRuleIntent(direction="egress")
FROM_WEB = SgRuleIntent(direction="ingress", remote_group_id="sg-web")
TCP_8080 = SgRuleIntent(direction="ingress", protocol=6, port_range_min=8080, port_range_max=8080)
ICMP_ANY = SgRuleIntent(direction="ingress", protocol=1, remote_ip_prefix="0.0.0.0/0")
UNRELATED = SgRuleIntent(direction="ingress", protocol=17, port_range_min=53, port_range_max=53)
_enc = msgspec.json.Encoder()


class Sg:
    def __init__(self, env) -> None:
        self.env = env
        self.ports: dict[str, tuple[int, L2Port]] = {}

    async def put_group(self, sg: str, *rules: SgRuleIntent, members=None) -> None:
        for h in self.env.cluster.hosts:
            token = host_token(h.name)
            await self.env.kv.put(sg_key(token, sg), _enc.encode(SecurityGroupIntent(sg_id=sg, rules=rules)))
            if members is not None:
                await self.env.kv.put(sg_members_key(token, sg),
                                      _enc.encode(SgMembers(sg_id=sg, addresses=tuple(sorted(members)))))

    async def port(self, i: int, tag: str, ip: str, groups: tuple[str, ...], **kw) -> tuple[str, str]:
        pid = f"sg{tag}".ljust(8, "0") + "-0000-4000-8000-000000000000"
        mac = f"fa:16:3e:5a:00:{len(self.ports) + 1:02x}"
        ns = await self.env.instance(i, pid, mac, f"{ip}/24")
        port = L2Port(port_id=pid, network_id=NET.network_id, mac_address=mac, fixed_ips=(ip,),
                      network_type="vxlan", segmentation_id=NET.segmentation_id, revision_number=1,
                      port_security_enabled=True, security_groups=groups, **kw)
        self.ports[tag] = (i, port)
        await self.env.put(i, port)
        return pid, ns

    async def update(self, tag: str, **changes) -> None:
        i, port = self.ports[tag]
        port = msgspec.structs.replace(port, **changes)
        self.ports[tag] = (i, port)
        await self.env.put(i, port)


async def eventually(check, want: bool = True, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check) == want:
            return True
        await asyncio.sleep(0.3)
    return False


def ping1(dp, ns: str, ip: str, src: str | None = None) -> bool:
    extra = ["-I", src] if src else []
    return dp.sh("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", *extra, ip, check=False).returncode == 0


def http(dp, ns: str, url: str) -> bool:
    r = dp.sh("ip", "netns", "exec", ns, "curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}", url,
              check=False)
    return r.stdout == "200"


ECHO_SERVER = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("{ip}", 8080)); s.listen(1)
c, _ = s.accept()
while (d := c.recv(100)):
    c.sendall(d)
"""
ECHO_CLIENT = """
import socket, sys
c = socket.create_connection(("{ip}", 8080), timeout=5)
for line in sys.stdin:
    c.sendall(line.encode()); print(c.recv(100).decode().strip(), flush=True)
"""


async def test_security_groups_with_real_packets(l2env, dp):
    dp.require("curl")
    env, sg = l2env, Sg(l2env)
    peers = tuple(h.tunnel_ip for h in env.cluster.hosts)
    await sg.put_group("sg-web", EGRESS, FROM_WEB, members=["10.0.0.1", "10.0.0.2"])
    await sg.put_group("sg-other", EGRESS)
    for i in (0, 1):
        await env.put(i, msgspec.structs.replace(NET, peers=peers))
    _, a = await sg.port(0, "a", "10.0.0.1", ("sg-web",))
    _, b = await sg.port(1, "b", "10.0.0.2", ("sg-web",))
    _, c = await sg.port(1, "c", "10.0.0.3", ("sg-other",))
    for _, port in sg.ports.values():
        await env.wait_status(port.port_id, "ACTIVE")

    # default-group behaviour: same group talks (both directions, across hosts); other group is blocked
    assert await eventually(lambda: ping1(dp, b, "10.0.0.1")), "same group: B -> A"
    assert ping1(dp, a, "10.0.0.2"), "same group: A -> B"
    assert not ping1(dp, c, "10.0.0.1"), "other group: C -> A must be blocked"

    # a rule opening tcp/8080: curl gets through, 8081 stays closed; deleting it closes it
    servers = [subprocess.Popen(["ip", "netns", "exec", a, "python3", "-m", "http.server", str(p), "--bind",
                                 "10.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
               for p in (8080, 8081)]
    try:
        assert await eventually(lambda: http(dp, b, "http://10.0.0.1:8081/")), "control: 8081 serves B"
        assert not http(dp, c, "http://10.0.0.1:8080/")
        await sg.put_group("sg-web", EGRESS, FROM_WEB, TCP_8080)
        assert await eventually(lambda: http(dp, c, "http://10.0.0.1:8080/")), "tcp/8080 opened for C"
        assert not http(dp, c, "http://10.0.0.1:8081/"), "tcp/8081 stays closed"
        await sg.put_group("sg-web", EGRESS, FROM_WEB)
        assert await eventually(lambda: http(dp, c, "http://10.0.0.1:8080/"), want=False), "rule deleted: closed"
    finally:
        for s in servers:
            s.terminate()
            s.wait(5)

    # remote group membership: adding C's address opens traffic from C, removing closes it
    await sg.put_group("sg-web", EGRESS, FROM_WEB, members=["10.0.0.1", "10.0.0.2", "10.0.0.3"])
    assert await eventually(lambda: ping1(dp, c, "10.0.0.1")), "C became a member"
    await sg.put_group("sg-web", EGRESS, FROM_WEB, members=["10.0.0.1", "10.0.0.2"])
    assert await eventually(lambda: ping1(dp, c, "10.0.0.1"), want=False), "C no longer a member"

    # an established TCP connection survives an unrelated rule change
    await sg.put_group("sg-web", EGRESS, FROM_WEB, TCP_8080)
    srv = subprocess.Popen(["ip", "netns", "exec", a, "python3", "-c", ECHO_SERVER.format(ip="10.0.0.1")])
    cli = None
    try:
        await asyncio.sleep(0.5)
        cli = subprocess.Popen(["ip", "netns", "exec", c, "python3", "-c", ECHO_CLIENT.format(ip="10.0.0.1")],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        cli.stdin.write("one\n")
        cli.stdin.flush()
        assert cli.stdout.readline().strip() == "one"
        await sg.put_group("sg-web", EGRESS, FROM_WEB, TCP_8080, UNRELATED)
        w = env.workers[env.host(0).name]
        assert await eventually(lambda: any("tp_dst=53" in f for f in _flows(env, 0)))
        cli.stdin.write("two\n")
        cli.stdin.flush()
        assert cli.stdout.readline().strip() == "two", "established connection survived the change"
        assert w.synced.is_set()
    finally:
        for p in (cli, srv):
            if p is not None:
                p.kill()
                p.wait(5)

    # anti-spoofing: B sending from an address not its own is dropped; an allowed pair is accepted
    await sg.put_group("sg-web", EGRESS, FROM_WEB, ICMP_ANY)
    dp.sh("ip", "-n", b, "addr", "add", "10.0.0.9/24", "dev", "eth0")
    assert await eventually(lambda: ping1(dp, b, "10.0.0.1")), "control: B's own address passes"
    assert not ping1(dp, b, "10.0.0.1", src="10.0.0.9"), "spoofed source must be dropped"
    await sg.update("b", allowed_address_pairs=(AllowedPair(ip_address="10.0.0.9"),))
    assert await eventually(lambda: ping1(dp, b, "10.0.0.1", src="10.0.0.9")), "allowed pair accepted"
    assert ping1(dp, c, "10.0.0.1"), "control: C with its own MAC passes (ICMP open)"
    dp.sh("ip", "-n", c, "link", "set", "eth0", "address", "fa:16:3e:5a:00:99")
    dp.sh("ip", "-n", c, "neigh", "flush", "all")
    assert not ping1(dp, c, "10.0.0.1"), "spoofed MAC must be dropped"

    # port security off on A: everything reaches it (C is in no group A admits)
    await sg.update("a", port_security_enabled=False, security_groups=())
    assert await eventually(lambda: ping1(dp, b, "10.0.0.1", src="10.0.0.2")), "A unfiltered"
    dp.sh("ip", "-n", c, "link", "set", "eth0", "address", sg.ports["c"][1].mac_address)
    assert await eventually(lambda: ping1(dp, c, "10.0.0.1")), "port security off passes everything"


def _flows(env, i: int) -> list[str]:
    h = env.host(i)
    out = subprocess.run(["ovs-ofctl", "dump-flows", f"unix:{h.ovs.rundir}/br-int.mgmt"], capture_output=True,
                         text=True)
    return out.stdout.splitlines()
