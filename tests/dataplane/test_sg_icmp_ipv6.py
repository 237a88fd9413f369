"""OVS security groups with real packets: ICMP type/code rules and IPv6 rules.

As test_sg_enforcement.py: two simulated OVS hosts, intents written straight into the
KV bucket, A on host 0 and B on host 1. A tcp/8080 rule stays in every state so
that each "blocked" check follows a positive control (HTTP B -> A) in the same state.
"""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from netledger.libs.events.intents import L2Network, SgRuleIntent
from tests.dataplane.test_sg_enforcement import Sg, eventually, http

pytestmark = pytest.mark.dataplane

NET = L2Network(network_id="net-sg", network_type="vxlan", segmentation_id=2001)
EGRESS4 = SgRuleIntent(direction="egress")
EGRESS6 = SgRuleIntent(direction="egress", ethertype="IPv6")
TCP4_8080 = SgRuleIntent(direction="ingress", protocol=6, port_range_min=8080, port_range_max=8080)


def icmp(type_: int | None, code: int | None = None, v6: bool = False, proto: int | None = None) -> SgRuleIntent:
    return SgRuleIntent(direction="ingress", ethertype="IPv6" if v6 else "IPv4",
                        protocol=proto if proto is not None else (58 if v6 else 1),
                        port_range_min=type_, port_range_max=code)


def ping(dp, ns: str, ip: str) -> bool:
    return dp.sh("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", ip, check=False).returncode == 0


def http6(dp, ns: str, ip: str, port: int) -> bool:
    r = dp.sh("ip", "netns", "exec", ns, "curl", "-g", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}",
              f"http://[{ip}]:{port}/", check=False)
    return r.stdout == "200"


def serve(ns: str, ip: str, port: int) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", ns, "python3", "-m", "http.server", str(port), "--bind", ip],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def two_ports(env, sg: Sg, *rules: SgRuleIntent, v6: bool = False) -> tuple[str, str]:
    await sg.put_group("sg-x", *rules, members=["10.0.0.1", "10.0.0.2", "fd00::1", "fd00::2"])
    peers = tuple(h.tunnel_ip for h in env.cluster.hosts)
    for i in (0, 1):
        await env.put(i, L2Network(**{**{f: getattr(NET, f) for f in NET.__struct_fields__}, "peers": peers}))
    out = []
    for i, tag in ((0, "a"), (1, "b")):
        _, ns = await sg.port(i, tag, f"10.0.0.{i + 1}", ("sg-x",))
        if v6:
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0",
                            "net.ipv6.conf.eth0.disable_ipv6=0"], check=True)
            subprocess.run(["ip", "-n", ns, "addr", "add", f"fd00::{i + 1}/64", "dev", "eth0", "nodad"], check=True)
            await sg.update(tag, fixed_ips=(f"10.0.0.{i + 1}", f"fd00::{i + 1}"))
        out.append(ns)
    for _, port in sg.ports.values():
        await env.wait_status(port.port_id, "ACTIVE")
    return out[0], out[1]


async def test_icmp_type_and_code_rules(l2env, dp):
    dp.require("curl")
    env, sg = l2env, Sg(l2env)
    a, b = await two_ports(env, sg, EGRESS4, TCP4_8080, icmp(8))
    srv = serve(a, "10.0.0.1", 8080)
    try:
        assert await eventually(lambda: ping(dp, b, "10.0.0.1")), "echo-request (type 8) allowed: ping works"
        for label, rule in (("type 13 only", icmp(13)), ("type 8 code 1 only", icmp(8, 1))):
            await sg.put_group("sg-x", EGRESS4, TCP4_8080, rule)
            assert await eventually(lambda: ping(dp, b, "10.0.0.1"), want=False), f"{label}: ping blocked"
            assert await eventually(lambda: http(dp, b, "http://10.0.0.1:8080/")), f"control ({label}): tcp/8080"
            assert not ping(dp, b, "10.0.0.1"), f"{label}: ping still blocked after the control"
        await sg.put_group("sg-x", EGRESS4, TCP4_8080, icmp(8, 0))
        assert await eventually(lambda: ping(dp, b, "10.0.0.1")), "type 8 code 0: ping works again"
    finally:
        srv.terminate()
        srv.wait(5)


async def test_ipv6_rules(l2env, dp):
    dp.require("curl")
    env, sg = l2env, Sg(l2env)
    a, b = await two_ports(env, sg, EGRESS4, EGRESS6, TCP4_8080, v6=True)
    servers = [serve(a, "10.0.0.1", 8080), serve(a, "fd00::1", 8080)]
    ping6 = lambda: ping(dp, b, "fd00::1")  # noqa: E731
    try:
        assert await eventually(lambda: http(dp, b, "http://10.0.0.1:8080/")), "control: tcp/8080 over IPv4"
        assert not ping6(), "no IPv6 ingress rule: ping6 blocked"
        assert not http6(dp, b, "fd00::1", 8080), "no IPv6 ingress rule: TCP over IPv6 blocked"

        await sg.put_group("sg-x", EGRESS4, EGRESS6, TCP4_8080,
                           SgRuleIntent(direction="ingress", ethertype="IPv6", protocol=58,
                                        remote_ip_prefix="fd00::/64"))
        assert await eventually(ping6), "ICMPv6 from fd00::/64 allowed: ping6 works"
        assert not http6(dp, b, "fd00::1", 8080), "TCP over IPv6 still blocked (ping6 control just passed)"

        tcp6 = SgRuleIntent(direction="ingress", ethertype="IPv6", protocol=6, port_range_min=8080,
                            port_range_max=8080, remote_group_id="sg-x")
        await sg.put_group("sg-x", EGRESS4, EGRESS6, TCP4_8080, tcp6,
                           members=["10.0.0.1", "10.0.0.2", "fd00::1", "fd00::2"])
        assert await eventually(lambda: http6(dp, b, "fd00::1", 8080)), "tcp/8080 over IPv6 from the group"
        assert not ping6(), "ICMPv6 rule removed: ping6 blocked (TCP6 control just passed)"

        # Neutron accepts protocol "icmp" (1) on an IPv6 rule and means ICMPv6
        await sg.put_group("sg-x", EGRESS4, EGRESS6, TCP4_8080, tcp6, icmp(None, v6=True, proto=1))
        assert await eventually(ping6), "an IPv6 rule with protocol icmp (1) lets ping6 through"
        await sg.put_group("sg-x", EGRESS4, EGRESS6, TCP4_8080, tcp6, icmp(128, v6=True))
        assert await eventually(ping6), "ICMPv6 type 128 (echo request): ping6 works"
        await sg.put_group("sg-x", EGRESS4, EGRESS6, TCP4_8080, tcp6, icmp(129, v6=True))
        assert await eventually(ping6, want=False), "ICMPv6 type 129 only: ping6 blocked"
        assert http6(dp, b, "fd00::1", 8080), "control: TCP over IPv6 still works"
        assert not ping6()

        w = env.workers[env.host(0).name]
        before = w.writes
        await asyncio.sleep(2.5)                            # two periodic full observes
        assert w.writes == before, "converged: IPv6/ICMP flows read back equal to what was rendered"
    finally:
        for s in servers:
            s.terminate()
            s.wait(5)
