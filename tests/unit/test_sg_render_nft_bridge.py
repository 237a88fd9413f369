"""The Linux bridge anti-spoofing guard (pure): golden text (the exact allowed sets and
the port's mark slot), allowed pairs, /0 pairs, link-local derivation, determinism, the
guard and the SG table of a port agree on slot and sources, no port security -> no
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
from netledger.services.l2.linuxbridge.model import BridgeObserved, ObsLink
from netledger.services.l2.linuxbridge.sg import wanted_guards
from netledger.services.l2.sg.model import link_local, port_filter
from netledger.services.l2.sg.render_nft import render_port_table
from netledger.services.l2.sg.render_nft_bridge import guard_table_name, render_guard_table

PAIRS = (AllowedPair(ip_address="10.0.9.0/24"),                                  # a CIDR, the port's MAC
         AllowedPair(ip_address="10.0.0.99", mac_address="FA:16:3E:00:00:99"),   # another MAC
         AllowedPair(ip_address="2001:db8:9::/64"))
PORT = L2Port(port_id="0123456789abcdef", network_id="n", mac_address="FA:16:3E:00:00:01",
              fixed_ips=("10.0.0.5", "2001:db8::5"), port_security_enabled=True, security_groups=("sg-a",),
              allowed_address_pairs=PAIRS)
TAP = "tap0123456789a"
SLOT = 0x123

GOLDEN = """\
# netledger anti-spoofing for port 0123456789abcdef (tap tap0123456789a); generated, do not edit
table bridge nl-as-0123456789a {
  chain prerouting {
    type filter hook prerouting priority filter; policy accept;
    iifname "tap0123456789a" meta mark set meta mark & 0x000000ff | 0x12300000 jump port_out
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    oifname "tap0123456789a" meta mark set meta mark & 0xfff000ff | 0x00012300
  }
  chain postrouting {
    type filter hook postrouting priority filter; policy accept;
    meta mark & 0xfff00000 == 0x12300000 meta mark set meta mark & 0x000000ff
    oifname "tap0123456789a" meta mark set meta mark & 0x000000ff
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


def render(port: L2Port = PORT, slot: int = SLOT) -> str:
    return render_guard_table(port_filter(port, {}, {}), tap=TAP, slot=slot)


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


def test_every_frame_from_the_tap_carries_the_slot_and_it_is_cleared_on_the_way_out():
    """The OUT field is set in the rule that sends the tap's frames to the checks (no
    accept path without it), the IN field on each copy leaving through the tap, and
    postrouting clears both (the mark must not ride a VXLAN packet into the underlay)."""
    text = render(slot=1)
    assert rules(text, "prerouting")[-1] == \
        'iifname "tap0123456789a" meta mark set meta mark & 0x000000ff | 0x00100000 jump port_out'
    assert rules(text, "forward")[-1] == 'oifname "tap0123456789a" meta mark set meta mark & 0xfff000ff | 0x00000100'
    assert rules(text, "postrouting")[1:] == [
        "meta mark & 0xfff00000 == 0x00100000 meta mark set meta mark & 0x000000ff",
        'oifname "tap0123456789a" meta mark set meta mark & 0x000000ff']
    with pytest.raises(ValueError):
        render(slot=0)
    with pytest.raises(ValueError):
        render(slot=4096)


def test_guard_and_sg_table_agree_on_slot_and_sources():
    """What the guard lets out (MAC, source) the SG table's port_out accepts, link-locals
    included; both carry the same slot."""
    f = port_filter(PORT, {}, {})
    guard, table = render(), render_port_table(f, bridge="brq-n", tap=TAP, slot=SLOT)
    out = {tuple(r.split()[2:6:3]) for r in rules(table, "port_out") if r.endswith("jump out_rules")}
    let_out = {(r.split()[2], r.split()[5]) for r in rules(guard, "ip4_out") + rules(guard, "ip6_out")
               if r.startswith("ether saddr fa:")}
    assert out == let_out and ("fa:16:3e:00:00:99", "fe80::f816:3eff:fe00:99") in out
    assert "0x12300000" in table and "0x00012300" in table


def test_link_local_is_the_modified_eui64_of_the_mac():
    assert link_local("fa:16:3e:00:00:01") == "fe80::f816:3eff:fe00:1"
    assert link_local("00:00:5e:00:53:01") == "fe80::200:5eff:fe00:5301"      # RFC 7042 example MAC


def test_no_port_security_no_guard():
    net = L2Network(network_id="n", network_type="vxlan", segmentation_id=7)
    off = msgspec.structs.replace(PORT, port_security_enabled=False, security_groups=())
    obs = BridgeObserved(links={f"tap{PORT.port_id[:11]}": ObsLink(name=f"tap{PORT.port_id[:11]}", kind="veth")})
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
