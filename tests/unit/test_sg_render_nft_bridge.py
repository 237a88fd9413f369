"""The Linux bridge anti-spoofing guard (pure): golden text (the exact allowed sets),
allowed pairs, /0 pairs, link-local derivation, determinism, no port security -> no
guard, and nft accepts the text in a private namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import msgspec
import pytest

from netledger.libs.events.intents import AllowedPair, L2Network, L2Port
from netledger.services.l2.desired import HostDesired
from netledger.services.l2.linuxbridge.model import LbObserved, ObsLink
from netledger.services.l2.linuxbridge.sg import wanted_guards
from netledger.services.l2.sg.model import port_filter
from netledger.services.l2.sg.render_nft_bridge import guard_table_name, link_local, render_guard_table

PAIRS = (AllowedPair(ip_address="10.0.9.0/24"),                                  # a CIDR, the port's MAC
         AllowedPair(ip_address="10.0.0.99", mac_address="FA:16:3E:00:00:99"),   # another MAC
         AllowedPair(ip_address="2001:db8:9::/64"))
PORT = L2Port(port_id="0123456789abcdef", network_id="n", mac_address="FA:16:3E:00:00:01",
              fixed_ips=("10.0.0.5", "2001:db8::5"), port_security_enabled=True, security_groups=("sg-a",),
              allowed_address_pairs=PAIRS)
TAP = "tap0123456789a"

GOLDEN = """\
# netledger anti-spoofing for port 0123456789abcdef (tap tap0123456789a); generated, do not edit
table bridge nl-as-0123456789a {
  chain prerouting {
    type filter hook prerouting priority filter; policy accept;
    iifname "tap0123456789a" jump port_out
  }
  chain port_out {
    ether saddr != { fa:16:3e:00:00:01, fa:16:3e:00:00:99 } counter drop
    ether type arp arp htype 1 arp ptype ip arp hlen 6 arp plen 4 jump arp_out
    ether type ip jump ip4_out
    ether type ip6 jump ip6_out
    counter drop
  }
  chain arp_out {
    ether saddr fa:16:3e:00:00:01 arp saddr ether fa:16:3e:00:00:01 arp saddr ip 10.0.0.5 accept
    ether saddr fa:16:3e:00:00:01 arp saddr ether fa:16:3e:00:00:01 arp saddr ip 10.0.9.0/24 accept
    ether saddr fa:16:3e:00:00:99 arp saddr ether fa:16:3e:00:00:99 arp saddr ip 10.0.0.99 accept
    counter drop
  }
  chain ip4_out {
    udp sport 67 udp dport 68 counter drop
    ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept
    ether saddr fa:16:3e:00:00:01 ip saddr 10.0.0.5 accept
    ether saddr fa:16:3e:00:00:01 ip saddr 10.0.9.0/24 accept
    ether saddr fa:16:3e:00:00:99 ip saddr 10.0.0.99 accept
    counter drop
  }
  chain ip6_out {
    icmpv6 type nd-router-advert counter drop
    udp sport 547 udp dport 546 counter drop
    ip6 saddr :: icmpv6 type { nd-router-solicit, nd-neighbor-solicit, mld-listener-report, mld2-listener-report } accept
    ether saddr fa:16:3e:00:00:01 ip6 saddr 2001:db8:9::/64 jump ip6_own
    ether saddr fa:16:3e:00:00:01 ip6 saddr 2001:db8::5 jump ip6_own
    ether saddr fa:16:3e:00:00:01 ip6 saddr fe80::f816:3eff:fe00:1 jump ip6_own
    ether saddr fa:16:3e:00:00:99 ip6 saddr fe80::f816:3eff:fe00:99 jump ip6_own
    counter drop
  }
  chain ip6_own {
    icmpv6 type nd-neighbor-advert @th,64,128 != { 0x20010db8000000000000000000000005, \
0x20010db8000900000000000000000000-0x20010db800090000ffffffffffffffff, 0xfe80000000000000f8163efffe000001, \
0xfe80000000000000f8163efffe000099 } counter drop
    accept
  }
}
"""


def render(port: L2Port = PORT) -> str:
    return render_guard_table(port_filter(port, {}, {}), tap=TAP)


def rules(text: str, chain: str) -> list[str]:
    body = text.split(f"  chain {chain} {{\n", 1)[1].split("  }\n", 1)[0]
    return [line.strip() for line in body.splitlines()]


def test_golden_text_and_deterministic():
    assert render() == GOLDEN
    shuffled = msgspec.structs.replace(PORT, allowed_address_pairs=PAIRS[::-1], fixed_ips=PORT.fixed_ips[::-1])
    assert render(shuffled) == GOLDEN, "same pairs in another order -> same bytes (no spurious replace)"


def test_only_the_ports_own_pairs_pass():
    """No pairs: one MAC, ARP and IPv4 from the fixed IP only, IPv6 from the link-local only."""
    bare = L2Port(port_id="p1", network_id="n", mac_address="fa:16:3e:00:00:02", fixed_ips=("10.0.0.2",),
                  port_security_enabled=True)
    text = render(bare)
    assert "ether saddr != { fa:16:3e:00:00:02 } counter drop" in text
    assert rules(text, "arp_out") == [
        "ether saddr fa:16:3e:00:00:02 arp saddr ether fa:16:3e:00:00:02 arp saddr ip 10.0.0.2 accept", "counter drop"]
    assert rules(text, "ip4_out") == ["udp sport 67 udp dport 68 counter drop",
                                      "ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept",
                                      "ether saddr fa:16:3e:00:00:02 ip saddr 10.0.0.2 accept", "counter drop"]
    assert [r for r in rules(text, "ip6_out") if "jump ip6_own" in r] == [
        "ether saddr fa:16:3e:00:00:02 ip6 saddr fe80::f816:3eff:fe00:2 jump ip6_own"]
    assert rules(text, "port_out")[-1] == "counter drop", "any other ethertype (VLAN, LLDP, ...) is dropped"


def test_an_any_address_pair_lifts_the_address_check_for_its_mac_only():
    """Neutron's 0.0.0.0/0 (or ::/0) pair: that MAC may use any address; others stay checked."""
    port = msgspec.structs.replace(PORT, allowed_address_pairs=(
        AllowedPair(ip_address="0.0.0.0/0", mac_address="fa:16:3e:00:00:77"), AllowedPair(ip_address="::/0")))
    text = render(port)
    assert "ether saddr fa:16:3e:00:00:77 arp saddr ether fa:16:3e:00:00:77 accept" in rules(text, "arp_out")
    assert "ether saddr fa:16:3e:00:00:77 accept" in rules(text, "ip4_out")
    assert "ether saddr fa:16:3e:00:00:01 ip saddr 10.0.0.5 accept" in rules(text, "ip4_out")
    assert "ether saddr fa:16:3e:00:00:01 jump ip6_own" in rules(text, "ip6_out")
    assert rules(text, "ip6_own") == ["accept"], "any source address: any ND target"


def test_link_local_is_the_modified_eui64_of_the_mac():
    assert link_local("fa:16:3e:00:00:01") == "fe80::f816:3eff:fe00:1"
    assert link_local("00:00:5e:00:53:01") == "fe80::200:5eff:fe00:5301"      # RFC 7042 example MAC


def test_no_port_security_no_guard():
    net = L2Network(network_id="n", network_type="vxlan", segmentation_id=7)
    off = msgspec.structs.replace(PORT, port_security_enabled=False, security_groups=())
    obs = LbObserved(links={f"tap{PORT.port_id[:11]}": ObsLink(name=f"tap{PORT.port_id[:11]}", kind="veth")})
    assert port_filter(off, {}, {}) is None
    assert wanted_guards(HostDesired(ports={off.port_id: off}, networks={"n": net}), {"n": net}, obs) == {}
    on = wanted_guards(HostDesired(ports={PORT.port_id: PORT}, networks={"n": net}), {"n": net}, obs)
    assert list(on) == [guard_table_name(PORT.port_id)] and on[guard_table_name(PORT.port_id)].family == "bridge"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft")
def test_nft_accepts_it_in_a_private_namespace():
    ns = f"nlt{uuid.uuid4().hex[:6]}-asnft"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for text in (GOLDEN, render(msgspec.structs.replace(PORT, allowed_address_pairs=(
                AllowedPair(ip_address="0.0.0.0/0"), AllowedPair(ip_address="::/0"))))):
            r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-c", "-f", "-"], input=text,
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)
