"""MAC/IP/ARP anti-spoofing on the Linux bridge backend, with real packets.

Two Linux bridge hosts (``Cluster(ovs=False)``), intents written straight into the KV
bucket as in test_sg_linuxbridge.py. X, the attacker, and O, an onlooker, sit on host 0
(same bridge), V, the victim, on host 1 (across VXLAN); all three are in group "web",
which also admits ICMP from anyone, so that the victim's own ingress filter never
explains a drop: what stops X is its guard (``table bridge nl-as-<port>``), checked by
the guard's drop counters. Every "blocked" check follows a positive control in the same
state, and the last step removes X's guard by hand (worker stopped) to show that the
same attacks then succeed, i.e. the checks can fail. Everything lives in ``nlt<hex>-*``
namespaces that the cluster fixture deletes, even on failure.

iputils ``arping`` is not installed on these machines, so gratuitous ARP, neighbour and
router adverts are sent from the attacker's namespace with raw sockets (stdlib only).
"""

from __future__ import annotations

import json
import sys

import msgspec
import pytest

from netledger.deploy.hosts import SimHost
from netledger.libs.events.intents import AllowedPair, SgRuleIntent
from netledger.services.l2.sg.render_nft import table_name
from netledger.services.l2.sg.render_nft_bridge import guard_table_name
from tests.dataplane.conftest import sh
from tests.dataplane.test_sg_enforcement import NET, Sg, eventually, ping1
from tests.dataplane.test_sg_linuxbridge import bridge_cluster, bridge_env  # noqa: F401  (fixtures)

pytestmark = pytest.mark.dataplane

EGRESS = SgRuleIntent(direction="egress")
FROM_WEB = SgRuleIntent(direction="ingress", remote_group_id="sg-web")
ICMP_ANY = SgRuleIntent(direction="ingress", protocol=1, remote_ip_prefix="0.0.0.0/0")
EGRESS6 = SgRuleIntent(direction="egress", ethertype="IPv6")
ICMP6_ANY = SgRuleIntent(direction="ingress", ethertype="IPv6", protocol=58, remote_ip_prefix="::/0")
X_IP, V_IP, O_IP = "10.0.0.1", "10.0.0.2", "10.0.0.3"
FORGED_MAC = "fa:16:3e:5a:ff:01"
OTHER_MAC = "fa:16:3e:5a:ff:02"           # never in any pair

# Gratuitous ARP requests (sender = target = the claimed IP) from our MAC, as `arping -U -s`.
GARP = """
import socket, struct, sys
iface, ip, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
mac, spa = s.getsockname()[4], socket.inet_aton(ip)
arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + spa + bytes(6) + spa
for _ in range(count):
    s.send(b"\\xff" * 6 + mac + b"\\x08\\x06" + arp)
"""


# ICMPv6 to ff02::1 with hop limit 255 (ND's rule): "na" = an unsolicited override neighbour
# advert claiming an address for our MAC, "ra" = a router advert (lifetime 1800 s).
ICMP6 = """
import socket, struct, sys
iface, kind, target, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
mac = bytes.fromhex(open(f"/sys/class/net/{iface}/address").read().strip().replace(":", ""))
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
if kind == "na":
    msg = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + socket.inet_pton(socket.AF_INET6, target) + b"\\x02\\x01" + mac
else:
    msg = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0) + b"\\x01\\x01" + mac
for _ in range(count):
    s.sendto(msg, ("ff02::1", 0, 0, socket.if_nametoindex(iface)))
"""


def garp(ns: str, claimed_ip: str, count: int = 3) -> None:
    sh("ip", "netns", "exec", ns, sys.executable, "-c", GARP, "eth0", claimed_ip, str(count))


def icmp6(ns: str, kind: str, target: str = "::", count: int = 3) -> None:
    sh("ip", "netns", "exec", ns, sys.executable, "-c", ICMP6, "eth0", kind, target, str(count))


def ping6(ns: str, ip: str, src: str | None = None) -> bool:
    extra = ["-I", src] if src else []
    return sh("ip", "netns", "exec", ns, "ping", "-6", "-c", "1", "-W", "1", *extra, ip, check=False).returncode == 0


def default6(ns: str) -> str:
    return sh("ip", "-n", ns, "-6", "route", "show", "default").stdout.strip()


def lladdr(ns: str, ip: str) -> str:
    """The MAC the namespace's neighbour table holds for ``ip`` ("" if none)."""
    words = sh("ip", "-n", ns, "neigh", "show", ip, "dev", "eth0").stdout.split()
    return words[words.index("lladdr") + 1] if "lladdr" in words else ""


def guard_tables(h: SimHost) -> set[str]:
    out = sh("nsenter", f"--net=/run/netns/{h.netns}", "nft", "list", "tables").stdout
    return {line.split()[2] for line in out.splitlines() if line.startswith("table bridge nl-as-")}


def guard_drops(h: SimHost, port_id: str) -> dict[str, int]:
    """Packets dropped by the port's guard, per chain (its drop rules all count)."""
    out = sh("nsenter", f"--net=/run/netns/{h.netns}", "nft", "-j", "list", "table", "bridge",
             guard_table_name(port_id)).stdout
    drops: dict[str, int] = {}
    for item in json.loads(out)["nftables"]:
        rule = item.get("rule")
        if rule and any("drop" in e for e in rule["expr"]):
            n = sum(e["counter"]["packets"] for e in rule["expr"] if "counter" in e)
            drops[rule["chain"]] = drops.get(rule["chain"], 0) + n
    return drops


def set_mac(ns: str, mac: str) -> None:
    """Change the instance's MAC and forget its neighbours (so it ARPs with the new MAC)."""
    sh("ip", "-n", ns, "link", "set", "dev", "eth0", "address", mac)
    sh("ip", "-n", ns, "neigh", "flush", "dev", "eth0")


async def setup(env) -> tuple[Sg, dict[str, tuple[str, str]]]:
    sg = Sg(env)
    h0, h1 = env.cluster.hosts
    await sg.put_group("sg-web", EGRESS, FROM_WEB, ICMP_ANY, EGRESS6, ICMP6_ANY, members=[X_IP, V_IP, O_IP])
    for i in (0, 1):
        await env.put(i, msgspec.structs.replace(NET, peers=(h0.tunnel_ip, h1.tunnel_ip)))
    ports = {"x": await sg.port(0, "x", X_IP, ("sg-web",)),
             "v": await sg.port(1, "v", V_IP, ("sg-web",)),
             "o": await sg.port(0, "o", O_IP, ("sg-web",))}
    for _, port in sg.ports.values():
        await env.wait_status(port.port_id, "ACTIVE")
    return sg, ports


async def test_mac_ip_and_arp_spoofing_are_dropped_at_the_tap(bridge_env, dp):
    env = bridge_env
    h0, h1 = env.cluster.hosts
    sg, ports = await setup(env)
    (px, x), (pv, v), (po, o) = ports["x"], ports["v"], ports["o"]
    assert guard_tables(h0) == {guard_table_name(px), guard_table_name(po)}
    assert guard_tables(h1) == {guard_table_name(pv)}

    # (a) normal traffic: across hosts and on the same bridge, ARP included
    assert await eventually(lambda: ping1(dp, x, V_IP)), "X -> V"
    assert ping1(dp, o, V_IP) and ping1(dp, x, O_IP), "O -> V, X -> O"
    v_mac = lladdr(o, V_IP)
    assert v_mac == sg.ports["v"][1].mac_address

    # (b) X takes another MAC: every frame (its ARP first) dies at its tap; its own MAC passes again
    before = guard_drops(h0, px)
    set_mac(x, FORGED_MAC)
    assert not ping1(dp, x, V_IP), "forged MAC must not reach V"
    assert not ping1(dp, x, O_IP), "nor O on the same bridge"
    assert guard_drops(h0, px)["port_out"] > before.get("port_out", 0), "dropped by the MAC check"
    set_mac(x, sg.ports["x"][1].mac_address)
    assert ping1(dp, x, V_IP), "control: the port's own MAC passes"

    # (c) a source IP that is not X's: dropped by the guard (ARP or IP, whichever goes first)
    sh("ip", "-n", x, "addr", "add", "10.0.0.9/24", "dev", "eth0")
    before = guard_drops(h0, px)
    assert not ping1(dp, x, V_IP, src="10.0.0.9"), "spoofed source must be dropped"
    after = guard_drops(h0, px)
    assert after["arp_out"] + after["ip4_out"] > before.get("arp_out", 0) + before.get("ip4_out", 0)
    assert ping1(dp, x, V_IP), "control: X's own address still passes"

    # (d) allowed address pairs: an IP with the port's MAC, and an (IP, MAC) pair of its own
    await sg.update("x", allowed_address_pairs=(AllowedPair(ip_address="10.0.0.9"),
                                                AllowedPair(ip_address="10.0.0.8", mac_address=FORGED_MAC)))
    assert await eventually(lambda: ping1(dp, x, V_IP, src="10.0.0.9")), "allowed pair accepted"
    sh("ip", "-n", x, "addr", "add", "10.0.0.8/24", "dev", "eth0")
    set_mac(x, FORGED_MAC)
    assert ping1(dp, x, V_IP, src="10.0.0.8"), "pair MAC with its pair IP accepted"
    assert not ping1(dp, x, V_IP), "pair MAC with the port's fixed IP: not a pair, dropped"
    set_mac(x, sg.ports["x"][1].mac_address)
    assert ping1(dp, x, V_IP), "control: back to the port's MAC"

    # (e) ARP spoofing: X claims V's IP in gratuitous ARP; O's neighbour entry for V holds
    assert ping1(dp, o, V_IP) and lladdr(o, V_IP) == v_mac
    before = guard_drops(h0, px)
    garp(x, V_IP)
    assert ping1(dp, o, V_IP), "O still reaches V"
    assert lladdr(o, V_IP) == v_mac, "O's ARP cache not poisoned"
    assert guard_drops(h0, px)["arp_out"] >= before.get("arp_out", 0) + 3, "the forged ARPs died at X's tap"

    # control: without X's guard (worker stopped, table deleted by hand) the same attacks work,
    # although X's security group table is still there
    await env.stop_worker(h0)
    sh("nsenter", f"--net=/run/netns/{h0.netns}", "nft", "delete", "table", "bridge", guard_table_name(px))
    assert table_name(px) in sh("nsenter", f"--net=/run/netns/{h0.netns}", "nft", "list", "tables").stdout
    garp(x, V_IP)
    assert await eventually(lambda: lladdr(o, V_IP) == sg.ports["x"][1].mac_address, timeout=5), \
        "control: unguarded, the gratuitous ARP poisons O's cache"
    set_mac(x, OTHER_MAC)
    assert await eventually(lambda: ping1(dp, x, V_IP), timeout=10), "control: unguarded, a forged MAC gets out"
    set_mac(x, sg.ports["x"][1].mac_address)

    # the restarted worker puts the guard back (and only it), and it holds again
    w = await env.start_worker(h0)
    assert guard_table_name(px) in guard_tables(h0) and w.startup_writes == 1
    sh("ip", "-n", o, "neigh", "flush", "dev", "eth0")
    assert await eventually(lambda: ping1(dp, o, V_IP)) and lladdr(o, V_IP) == v_mac
    garp(x, V_IP)
    assert ping1(dp, o, V_IP) and lladdr(o, V_IP) == v_mac, "guard restored: no poisoning"

    # port security off on X: its guard goes with its SG table (Neutron: no anti-spoofing either)
    await sg.update("x", port_security_enabled=False, security_groups=(), allowed_address_pairs=())
    assert await eventually(lambda: guard_tables(h0) == {guard_table_name(po)}), "X's guard removed, O's kept"
    set_mac(x, FORGED_MAC)
    assert await eventually(lambda: ping1(dp, x, V_IP)), "unprotected port: a forged MAC gets out"



def enable_ipv6(ns: str, cidr: str) -> None:
    """Undo BridgeEnv's disable_ipv6 and add a global address (with DAD, which must pass)."""
    sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0",
       "net.ipv6.conf.eth0.disable_ipv6=0")
    sh("ip", "-n", ns, "addr", "add", cidr, "dev", "eth0")


def dad_done(ns: str) -> bool:
    out = sh("ip", "-n", ns, "-6", "addr", "show", "dev", "eth0").stdout
    return "inet6" in out and "tentative" not in out and "dadfailed" not in out


async def test_ipv6_source_nd_and_ra_spoofing_are_dropped_at_the_tap(bridge_env, dp):
    env = bridge_env
    h0, _ = env.cluster.hosts
    sg, ports = await setup(env)
    (px, x), (_, v), (_, o) = ports["x"], ports["v"], ports["o"]
    six = {"x": "fd00::1", "v": "fd00::2", "o": "fd00::3"}
    for tag, ns in (("x", x), ("v", v), ("o", o)):
        await sg.update(tag, fixed_ips=(sg.ports[tag][1].fixed_ips[0], six[tag]))
        enable_ipv6(ns, f"{six[tag]}/64")
    for ns in (x, v, o):
        assert await eventually(lambda: dad_done(ns), timeout=10), "DAD (NS from ::) passes the guards"

    # normal IPv6 traffic, ND included, across hosts and on the same bridge
    assert await eventually(lambda: ping6(x, six["v"])), "X -> V over IPv6"
    assert ping6(o, six["v"]) and ping6(x, six["o"]), "O -> V, X -> O"
    v_mac = sg.ports["v"][1].mac_address
    assert lladdr(o, six["v"]) == v_mac

    # a foreign IPv6 source from X is dropped by its guard
    sh("ip", "-n", x, "addr", "add", "fd00::9/64", "dev", "eth0", "nodad")
    before = guard_drops(h0, px)
    assert not ping6(x, six["v"], src="fd00::9"), "spoofed IPv6 source must be dropped"
    assert guard_drops(h0, px)["ip6_out"] > before.get("ip6_out", 0)

    # ND spoofing: X advertises V's address; O keeps V's MAC. Router adverts from X die too.
    before = guard_drops(h0, px)
    icmp6(x, "na", six["v"])
    icmp6(x, "ra")
    assert ping6(o, six["v"]) and lladdr(o, six["v"]) == v_mac, "O's neighbour cache not poisoned"
    assert default6(o) == "", "O took no default route from X's router advert"
    after = guard_drops(h0, px)
    assert after["ip6_own"] >= before.get("ip6_own", 0) + 3, "forged neighbour adverts dropped"
    assert after["ip6_out"] >= before.get("ip6_out", 0) + 3, "router adverts dropped"

    # control: without X's guard the neighbour advert poisons O's cache (X's SG table lets any
    # NA out). Its port_out also happens to drop RAs; the guard drops them regardless of rules.
    await env.stop_worker(h0)
    sh("nsenter", f"--net=/run/netns/{h0.netns}", "nft", "delete", "table", "bridge", guard_table_name(px))
    icmp6(x, "na", six["v"])
    assert await eventually(lambda: lladdr(o, six["v"]) == sg.ports["x"][1].mac_address, timeout=5), \
        "control: unguarded, the neighbour advert poisons O's cache"
    await env.start_worker(h0)
    assert guard_table_name(px) in guard_tables(h0)
