"""Security group rules apply to allowed-address-pair MACs and to link-local traffic
(Linux bridge backend), with real packets.

X (host 0) owns fixed IP 10.0.0.1 and an allowed pair (10.0.0.8, its own MAC), used the
way keepalived or a nested container would: a macvlan ``pair0`` with the pair MAC and
IP next to ``eth0`` inside X's namespace. V (host 1, across VXLAN) and O (host 0, same
bridge) are in group "open", which lets everything in and out, so whatever blocks a
packet below is X's own rules. The inet SG table used to recognise X by its port MAC
only, so every frame to or from the pair MAC skipped X's rules; now X's guard stamps
X's mark slot on every frame through its tap and the SG table matches that.

Every "blocked" check has a positive control in the same state (the same path with an
allowed protocol or port), and every rule change is shown to open the blocked path, so
a dead network cannot pass for a filter. Everything lives in ``nlt<hex>-*`` namespaces
that the cluster fixture deletes, even on failure.
"""

from __future__ import annotations

import subprocess

import msgspec
import pytest

from netledger.libs.events.intents import AllowedPair, SgRuleIntent
from netledger.services.l2.sg.model import link_local
from tests.dataplane.conftest import sh
from tests.dataplane.test_antispoof_linuxbridge import dad_done, ping6
from tests.dataplane.test_sg_enforcement import NET, Sg, eventually, ping1
from tests.dataplane.test_sg_linuxbridge import bridge_cluster, bridge_env, servers  # noqa: F401  (fixtures)

pytestmark = pytest.mark.dataplane

X_IP, V_IP, O_IP, PAIR_IP = "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.8"
PAIR_MAC = "fa:16:3e:5a:ee:08"
EGRESS_ALL = SgRuleIntent(direction="egress")
EGRESS6_ALL = SgRuleIntent(direction="egress", ethertype="IPv6")
INGRESS_ALL = SgRuleIntent(direction="ingress", remote_ip_prefix="0.0.0.0/0")
INGRESS6_ALL = SgRuleIntent(direction="ingress", ethertype="IPv6", remote_ip_prefix="::/0")
SSH_IN = SgRuleIntent(direction="ingress", protocol=6, port_range_min=22, port_range_max=22,
                      remote_ip_prefix="0.0.0.0/0")
ICMP_IN = SgRuleIntent(direction="ingress", protocol=1, remote_ip_prefix="0.0.0.0/0")
HTTP_OUT = SgRuleIntent(direction="egress", protocol=6, port_range_min=8080, port_range_max=8080)
ICMP_OUT = SgRuleIntent(direction="egress", protocol=1)
ICMP6_IN = SgRuleIntent(direction="ingress", ethertype="IPv6", protocol=58, remote_ip_prefix="::/0")
ICMP6_OUT = SgRuleIntent(direction="egress", ethertype="IPv6", protocol=58)


def add_pair_interface(ns: str) -> None:
    """``pair0``: a macvlan on eth0 with the pair MAC and IP. ARP for an address is
    answered only by the interface holding it (arp_ignore=1), and traffic from the pair
    IP leaves through pair0 (a source rule), so the pair IP is always on the pair MAC."""
    sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1",
       "net.ipv4.conf.all.arp_announce=2")
    sh("ip", "-n", ns, "link", "add", "link", "eth0", "name", "pair0", "address", PAIR_MAC,
       "type", "macvlan", "mode", "bridge")
    sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.pair0.disable_ipv6=1")
    sh("ip", "-n", ns, "addr", "add", f"{PAIR_IP}/24", "dev", "pair0", "noprefixroute")
    sh("ip", "-n", ns, "link", "set", "pair0", "up")
    sh("ip", "-n", ns, "rule", "add", "from", PAIR_IP, "table", "100")
    sh("ip", "-n", ns, "route", "add", "10.0.0.0/24", "dev", "pair0", "src", PAIR_IP, "table", "100")


def lladdr(ns: str, ip: str, dev: str = "eth0") -> str:
    words = sh("ip", "-n", ns, "neigh", "show", ip, "dev", dev).stdout.split()
    return words[words.index("lladdr") + 1] if "lladdr" in words else ""


def http_from(ns: str, src: str, url: str) -> bool:
    r = sh("ip", "netns", "exec", ns, "curl", "-s", "-m", "2", "--interface", src, "-o", "/dev/null",
           "-w", "%{http_code}", url, check=False)
    return r.stdout == "200"


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
        p.wait(5)


async def setup(env, x_rules: tuple[SgRuleIntent, ...]):
    sg = Sg(env)
    h0, h1 = env.cluster.hosts
    await sg.put_group("sg-x", *x_rules)
    await sg.put_group("sg-open", EGRESS_ALL, INGRESS_ALL, EGRESS6_ALL, INGRESS6_ALL)
    for i in (0, 1):
        await env.put(i, msgspec.structs.replace(NET, peers=(h0.tunnel_ip, h1.tunnel_ip)))
    ports = {"x": await sg.port(0, "px", X_IP, ("sg-x",),
                                allowed_address_pairs=(AllowedPair(ip_address=PAIR_IP, mac_address=PAIR_MAC),)),
             "v": await sg.port(1, "pv", V_IP, ("sg-open",)),
             "o": await sg.port(0, "po", O_IP, ("sg-open",))}
    for _, port in sg.ports.values():
        await env.wait_status(port.port_id, "ACTIVE")
    return sg, {tag: ns for tag, (_, ns) in ports.items()}


async def test_ingress_rules_apply_to_traffic_for_the_pair_mac(bridge_env, dp):
    """X admits only tcp/22 (and everything out). Pings to the pair IP (pair MAC) fail,
    from across VXLAN and from the same bridge, while tcp/22 to the same IP works;
    an ICMP rule opens them."""
    dp.require("curl")
    sg, ns = await setup(bridge_env, (EGRESS_ALL, SSH_IN))
    x, v, o = ns["x"], ns["v"], ns["o"]
    add_pair_interface(x)
    procs = servers(x, PAIR_IP, 22) + servers(x, X_IP, 22)
    try:
        assert await eventually(lambda: http_from(v, V_IP, f"http://{PAIR_IP}:22/")), \
            "control: tcp/22 to the pair IP is allowed (V, across VXLAN)"
        assert http_from(o, O_IP, f"http://{PAIR_IP}:22/"), "control: tcp/22 to the pair IP from O (same bridge)"
        assert lladdr(v, PAIR_IP) == lladdr(o, PAIR_IP) == PAIR_MAC, "the pair IP is reached on the pair MAC"
        assert http_from(v, V_IP, f"http://{X_IP}:22/"), "control: and the fixed IP on the port MAC"
        assert not ping1(dp, v, PAIR_IP), "no ICMP rule: ping to the pair IP/MAC is dropped (across VXLAN)"
        assert not ping1(dp, o, PAIR_IP), "and on the same bridge"
        assert not ping1(dp, v, X_IP), "as to the fixed IP"
        assert ping1(dp, x, V_IP, src=PAIR_IP) and ping1(dp, x, V_IP), "control: X's own pings out get answered"

        await sg.put_group("sg-x", EGRESS_ALL, SSH_IN, ICMP_IN)
        assert await eventually(lambda: ping1(dp, v, PAIR_IP)), "ICMP rule added: ping to the pair IP works"
        assert ping1(dp, o, PAIR_IP) and ping1(dp, v, X_IP), "from the same bridge too, and to the fixed IP"

        await sg.put_group("sg-x", EGRESS_ALL, SSH_IN)
        assert await eventually(lambda: not ping1(dp, v, PAIR_IP)), "rule removed again: dropped again"
        assert http_from(v, V_IP, f"http://{PAIR_IP}:22/"), "control: tcp/22 still passes"
    finally:
        stop(procs)


async def test_egress_rules_apply_to_traffic_from_the_pair_mac(bridge_env, dp):
    """X may send only tcp/8080 (ingress: anything). From the pair MAC/IP, tcp/8081 and
    ICMP are dropped on the way out while tcp/8080 passes; an ICMP egress rule opens ICMP."""
    dp.require("curl")
    sg, ns = await setup(bridge_env, (HTTP_OUT, INGRESS_ALL))
    x, v, o = ns["x"], ns["v"], ns["o"]
    add_pair_interface(x)
    procs = servers(v, V_IP, 8080, 8081)
    try:
        assert await eventually(lambda: http_from(x, PAIR_IP, f"http://{V_IP}:8080/")), \
            "control: tcp/8080 from the pair IP is allowed"
        assert lladdr(v, PAIR_IP) == PAIR_MAC, "V saw the pair MAC"
        assert http_from(o, O_IP, f"http://{V_IP}:8081/"), "control: V serves 8081 (to O)"
        assert not http_from(x, PAIR_IP, f"http://{V_IP}:8081/"), "tcp/8081 from the pair MAC: X's egress drops it"
        assert not http_from(x, X_IP, f"http://{V_IP}:8081/"), "as from the port MAC"
        assert ping1(dp, o, V_IP), "control: V answers pings (to O)"
        assert not ping1(dp, x, V_IP, src=PAIR_IP), "ICMP from the pair MAC: dropped on the way out"
        assert not ping1(dp, x, O_IP, src=PAIR_IP), "also towards the same bridge"
        assert ping1(dp, v, PAIR_IP), "control: pings *to* the pair IP are answered (replies are established)"

        await sg.put_group("sg-x", HTTP_OUT, ICMP_OUT, INGRESS_ALL)
        assert await eventually(lambda: ping1(dp, x, V_IP, src=PAIR_IP)), "ICMP egress rule: the pair MAC pings out"
        assert ping1(dp, x, O_IP, src=PAIR_IP) and ping1(dp, x, V_IP)
        assert not http_from(x, PAIR_IP, f"http://{V_IP}:8081/"), "tcp/8081 still dropped"
    finally:
        stop(procs)


async def test_link_local_traffic_passes_the_sg_table_and_meets_its_rules(bridge_env, dp):
    """IPv6 between link-local addresses only (no global address): the guard lets X's
    EUI-64 link-local out, and the SG table now does too, both ways; X's ICMPv6 rules
    decide, as for any other source."""
    sg, ns = await setup(bridge_env, (EGRESS_ALL, EGRESS6_ALL, ICMP6_IN))
    x, v = ns["x"], ns["v"]
    for tag in ("x", "v"):
        sh("ip", "netns", "exec", ns[tag], "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0",
           "net.ipv6.conf.eth0.disable_ipv6=0")
    x_ll, v_ll = (link_local(sg.ports[t][1].mac_address) for t in ("px", "pv"))
    for tag in ("x", "v"):
        assert await eventually(lambda: dad_done(ns[tag]), timeout=10), "link-local DAD passes"
    assert x_ll in sh("ip", "-n", x, "-6", "addr", "show", "dev", "eth0").stdout, "the kernel derived the same address"
    assert await eventually(lambda: ping6(x, f"{v_ll}%eth0")), "X -> V between link-local addresses"
    assert ping6(v, f"{x_ll}%eth0"), "V -> X: X's link-local is a destination of its ingress rules"

    await sg.put_group("sg-x", EGRESS_ALL, EGRESS6_ALL)
    assert await eventually(lambda: not ping6(v, f"{x_ll}%eth0")), "no ICMPv6 ingress rule: V -> X dropped"
    assert ping6(x, f"{v_ll}%eth0"), "control: X -> V still works (the replies are established)"
