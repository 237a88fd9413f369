"""The Linux bridge SG table (pure): golden text, the port found by its mark slot and not
its MAC (pair MACs and broadcasts meet its rules), link-local sources, nft accepts it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid

import msgspec
import pytest

from netledger.libs.events.intents import AllowedPair, L2Port, SecurityGroupIntent, SgMembers, SgRuleIntent
from netledger.services.l2.sg.model import port_filter
from netledger.services.l2.sg.render_nft import render_port_table

PORT = L2Port(port_id="0123456789abcdef", network_id="n", mac_address="FA:16:3E:00:00:01", fixed_ips=("10.0.0.5",),
              port_security_enabled=True, security_groups=("sg-a",),
              allowed_address_pairs=(AllowedPair(ip_address="10.0.9.0/24"),
                                     AllowedPair(ip_address="10.0.0.99", mac_address="FA:16:3E:00:00:99")))
SLOT = 0x123
GROUPS = {"sg-a": SecurityGroupIntent(sg_id="sg-a", rules=(
    SgRuleIntent(direction="egress"),
    SgRuleIntent(direction="ingress", remote_group_id="sg-a"),
    SgRuleIntent(direction="ingress", protocol=6, port_range_min=8080, port_range_max=8081),
    SgRuleIntent(direction="ingress", protocol=1, port_range_min=8, port_range_max=0,
                 remote_ip_prefix="192.168.0.0/16")))}
MEMBERS = {"sg-a": SgMembers(sg_id="sg-a", addresses=("10.0.0.5", "10.0.0.6"))}

GOLDEN = """\
# netledger security groups for port 0123456789abcdef (tap tap01234567-89); generated, do not edit
table inet nl-sg-0123456789a {
  set rg0_v4 { type ipv4_addr; flags interval; elements = { 10.0.0.5, 10.0.0.6 } }  # group sg-a
  set rg0_v6 { type ipv6_addr; flags interval; }  # group sg-a
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "brq-n" meta mark & 0xfff00000 == 0x12300000 jump port_out
    oifname "brq-n" meta mark & 0x000fff00 == 0x00012300 jump port_in
  }
  chain port_out {
    ether saddr fa:16:3e:00:00:01 ip saddr 10.0.0.5 jump out_rules
    ether saddr fa:16:3e:00:00:01 ip saddr 10.0.9.0/24 jump out_rules
    ether saddr fa:16:3e:00:00:99 ip saddr 10.0.0.99 jump out_rules
    ether saddr fa:16:3e:00:00:01 ip6 saddr fe80::f816:3eff:fe00:1 jump out_rules
    ether saddr fa:16:3e:00:00:99 ip6 saddr fe80::f816:3eff:fe00:99 jump out_rules
    udp sport 68 udp dport 67 accept
    icmpv6 type { mld-listener-report, mld-listener-done, nd-router-solicit, nd-neighbor-solicit, \
nd-neighbor-advert, mld2-listener-report } accept
    drop
  }
  chain out_rules {
    ct state invalid drop
    ct state established,related accept
    meta nfproto ipv4 accept
    drop
  }
  chain port_in {
    udp sport 67 udp dport 68 accept
    udp sport 547 udp dport 546 accept
    icmpv6 type { mld-listener-query, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept
    meta pkttype { broadcast, multicast } jump in_rules
    ip daddr { 10.0.0.5, 10.0.0.99, 10.0.9.0/24 } jump in_rules
    ip6 daddr { fe80::f816:3eff:fe00:1, fe80::f816:3eff:fe00:99 } jump in_rules
    drop
  }
  chain in_rules {
    ct state invalid drop
    ct state established,related accept
    meta nfproto ipv4 ip saddr 192.168.0.0/16 meta l4proto icmp icmp type 8 icmp code 0 accept
    meta nfproto ipv4 tcp dport 8080-8081 accept
    meta nfproto ipv4 ip saddr @rg0_v4 accept
    drop
  }
}
"""


def render(port: L2Port = PORT, slot: int = SLOT) -> str:
    return render_port_table(port_filter(port, GROUPS, MEMBERS), bridge="brq-n", tap="tap01234567-89", slot=slot)


def test_golden_text_and_deterministic():
    assert render() == GOLDEN
    assert render() == render()


def test_the_port_is_its_mark_slot_not_its_mac():
    """The dispatch names no MAC: a frame from/to a pair MAC (or a broadcast) reaches the
    port's chains through the slot its guard stamped; another slot is another port."""
    dispatch = GOLDEN.split("  chain forward {\n", 1)[1].split("  }\n", 1)[0]
    assert "ether" not in dispatch
    other = render(slot=0x124)
    assert "== 0x12400000 jump port_out" in other and "== 0x00012400 jump port_in" in other
    assert other.replace("124", "123") == GOLDEN, "the slot is the only difference"


def test_link_local_of_every_allowed_mac_is_a_source_and_a_destination():
    """IPv6 only from link-local: the guard lets fe80::<eui64 of each allowed MAC> out,
    so the SG table's anti-spoofing part must too, and replies to it must come back."""
    v6 = msgspec.structs.replace(PORT, fixed_ips=("10.0.0.5", "2001:db8::5"))
    text = render(v6)
    assert "    ether saddr fa:16:3e:00:00:99 ip6 saddr fe80::f816:3eff:fe00:99 jump out_rules\n" in text
    assert ("    ip6 daddr { 2001:db8::5, fe80::f816:3eff:fe00:1, fe80::f816:3eff:fe00:99 } jump in_rules\n"
            in text)


def test_no_port_security_no_table():
    assert port_filter(L2Port(port_id="p", network_id="n", mac_address="m"), GROUPS, MEMBERS) is None


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft")
def test_nft_accepts_it_in_a_private_namespace():
    ns = f"nlt{uuid.uuid4().hex[:6]}-sgnft"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".nft") as fh:
            fh.write(render() + render(msgspec.structs.replace(PORT, allowed_address_pairs=(
                AllowedPair(ip_address="0.0.0.0/0"), AllowedPair(ip_address="10.0.0.0/8", mac_address="fa:16:3e:00:00:98"),
                AllowedPair(ip_address="::/0")))).replace("nl-sg-0123456789a", "nl-sg-any"))
            fh.flush()
            r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-c", "-f", fh.name], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)
