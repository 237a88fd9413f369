"""Security groups enforced by the Linux bridge workers (nftables) with real packets.

Two Linux bridge hosts (``Cluster(ovs=False)``), intents written straight into the KV
bucket as in test_sg_enforcement.py: A (host 0) and B (host 1) are in group "web",
C (host 1) in group "other". Every "blocked" check follows a positive control in the
same state, so a dead network cannot pass for a filter. Everything lives in
``nlt<hex>-*`` namespaces that the cluster fixture deletes, even on failure.
"""

from __future__ import annotations

import asyncio
import subprocess

import msgspec
import pytest

from netledger.deploy.hosts import Cluster, SimHost
from netledger.libs.events.intents import AllowedPair, L2Network, SgRuleIntent
from netledger.services.l2.sg.render_nft import table_name
from tests.dataplane.conftest import sh
from tests.dataplane.test_l2_linuxbridge import BridgeEnv
from tests.dataplane.test_sg_enforcement import Sg, eventually, http, ping1

pytestmark = pytest.mark.dataplane

NET = L2Network(network_id="net-sg", network_type="vxlan", segmentation_id=2001)
EGRESS = SgRuleIntent(direction="egress")
FROM_WEB = SgRuleIntent(direction="ingress", remote_group_id="sg-web")
TCP_8080 = SgRuleIntent(direction="ingress", protocol=6, port_range_min=8080, port_range_max=8080)
ICMP_ANY = SgRuleIntent(direction="ingress", protocol=1, remote_ip_prefix="0.0.0.0/0")


@pytest.fixture(scope="module")
def bridge_cluster():
    with Cluster(count=2, physnet=False, ovs=False) as c:
        yield c
    left = [n for n in sh("ip", "netns", "list").stdout.split() if n.startswith(c.prefix + "-")]
    assert not left, f"namespaces of this run left behind: {left}"


@pytest.fixture
async def bridge_env(bridge_cluster, nats_server, prefix):
    env = BridgeEnv(bridge_cluster, nats_server, prefix)
    env.lb_plugged = []
    try:
        await env.start()
        yield env
    finally:
        await env.close()


def sg_tables(h: SimHost) -> set[str]:
    out = sh("nsenter", f"--net=/run/netns/{h.netns}", "nft", "list", "tables").stdout
    return {line.split()[2] for line in out.splitlines() if line.startswith("table inet nl-sg-")}


def bridge_nf(h: SimHost) -> str:
    """"on"/"off" when bridge-nf-call-iptables and -ip6tables agree, else both values."""
    vals = sh("ip", "netns", "exec", h.netns, "sysctl", "-n", "net.bridge.bridge-nf-call-iptables",
              "net.bridge.bridge-nf-call-ip6tables").stdout.split()
    return {("1", "1"): "on", ("0", "0"): "off"}.get(tuple(vals), " ".join(vals))


def servers(ns: str, ip: str, *ports: int) -> list[subprocess.Popen]:
    return [subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-m", "http.server", str(p), "--bind", ip],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p in ports]


async def test_security_groups_on_linux_bridge(bridge_env, dp):
    dp.require("curl")
    env, sg = bridge_env, Sg(bridge_env)
    h0, h1 = env.cluster.hosts
    await sg.put_group("sg-web", EGRESS, FROM_WEB, members=["10.0.0.1", "10.0.0.2"])
    await sg.put_group("sg-other", EGRESS)
    for i in (0, 1):
        await env.put(i, msgspec.structs.replace(NET, peers=(h0.tunnel_ip, h1.tunnel_ip)))
    pa, a = await sg.port(0, "a", "10.0.0.1", ("sg-web",))
    pb, b = await sg.port(1, "b", "10.0.0.2", ("sg-web",))
    pc, c = await sg.port(1, "c", "10.0.0.3", ("sg-other",))
    for _, port in sg.ports.values():
        await env.wait_status(port.port_id, "ACTIVE")
    assert sg_tables(h0) == {table_name(pa)} and sg_tables(h1) == {table_name(pb), table_name(pc)}
    assert bridge_nf(h0) == bridge_nf(h1) == "on"

    # default-group behaviour: same group talks (both directions, across hosts); other group is blocked
    assert await eventually(lambda: ping1(dp, b, "10.0.0.1")), "same group: B -> A"
    assert ping1(dp, a, "10.0.0.2"), "same group: A -> B"
    assert not ping1(dp, c, "10.0.0.1"), "other group: C -> A must be blocked"
    assert ping1(dp, b, "10.0.0.3") is False, "B -> C: C admits no one (sg-other has no ingress rule)"

    # tcp/8080 opens 8080 for C while 8081 stays closed
    procs = servers(a, "10.0.0.1", 8080, 8081)
    try:
        assert await eventually(lambda: http(dp, b, "http://10.0.0.1:8081/")), "control: 8081 serves B"
        assert not http(dp, c, "http://10.0.0.1:8080/"), "8080 closed for C before the rule"
        w0 = env.workers[h0.name]
        before = w0.writes
        await sg.put_group("sg-web", EGRESS, FROM_WEB, TCP_8080)
        assert await eventually(lambda: http(dp, c, "http://10.0.0.1:8080/")), "tcp/8080 opened for C"
        assert not http(dp, c, "http://10.0.0.1:8081/"), "tcp/8081 stays closed"
        assert w0.writes - before == 1, "a rule change replaces only A's table on host 0"
    finally:
        for p in procs:
            p.terminate()
            p.wait(5)

    # anti-spoofing: B sending from an address not its own is dropped; an allowed pair is accepted
    await sg.put_group("sg-web", EGRESS, FROM_WEB, ICMP_ANY)
    dp.sh("ip", "-n", b, "addr", "add", "10.0.0.9/24", "dev", "eth0")
    assert await eventually(lambda: ping1(dp, c, "10.0.0.1")), "control: ICMP from anyone reaches A"
    assert ping1(dp, b, "10.0.0.1"), "control: B's own address passes"
    assert not ping1(dp, b, "10.0.0.1", src="10.0.0.9"), "spoofed source must be dropped"
    await sg.update("b", allowed_address_pairs=(AllowedPair(ip_address="10.0.0.9"),))
    assert await eventually(lambda: ping1(dp, b, "10.0.0.1", src="10.0.0.9")), "allowed pair accepted"

    # port security off on A: everything reaches it, and host 0 holds no SG state at all
    procs = servers(a, "10.0.0.1", 8081)
    try:
        assert await eventually(lambda: http(dp, b, "http://10.0.0.1:8081/")), "control: 8081 serves B"
        assert not http(dp, c, "http://10.0.0.1:8081/"), "8081 closed for C while A is filtered"
        await sg.update("a", port_security_enabled=False, security_groups=())
        assert await eventually(lambda: http(dp, c, "http://10.0.0.1:8081/")), "port security off passes all"
    finally:
        for p in procs:
            p.terminate()
            p.wait(5)
    assert sg_tables(h0) == set() and bridge_nf(h0) == "off", "no table, br_netfilter off on host 0"
    assert sg_tables(h1) == {table_name(pb), table_name(pc)} and bridge_nf(h1) == "on"


async def test_restart_writes_nothing_and_a_deleted_table_is_restored(bridge_env, dp):
    env, sg = bridge_env, Sg(bridge_env)
    h0, h1 = env.cluster.hosts
    await sg.put_group("sg-web", EGRESS, FROM_WEB, members=["10.0.0.1", "10.0.0.2"])
    for i in (0, 1):
        await env.put(i, msgspec.structs.replace(NET, peers=(h0.tunnel_ip, h1.tunnel_ip)))
    await sg.put_group("sg-other", EGRESS)
    pa, a = await sg.port(0, "ra", "10.0.0.1", ("sg-web",))
    _, b = await sg.port(1, "rb", "10.0.0.2", ("sg-web",))
    _, c = await sg.port(1, "rc", "10.0.0.3", ("sg-other",))
    for _, port in sg.ports.values():
        await env.wait_status(port.port_id, "ACTIVE")
    assert await eventually(lambda: ping1(dp, b, "10.0.0.1"))
    assert not ping1(dp, c, "10.0.0.1")

    await env.stop_worker(h0)
    w = await env.start_worker(h0)
    assert w.startup_writes == 0, "restart with nothing changed writes nothing"
    await asyncio.sleep(2.5)                                  # two periodic full observes
    assert w.writes == 0

    sh("nsenter", f"--net=/run/netns/{h0.netns}", "nft", "delete", "table", "inet", table_name(pa))
    assert await eventually(lambda: table_name(pa) in sg_tables(h0)), "deleted table restored"
    assert w.writes == 1
    assert ping1(dp, b, "10.0.0.1"), "control: B -> A after the repair"
    assert not ping1(dp, c, "10.0.0.1"), "the restored table filters again (only A's table stops C)"
