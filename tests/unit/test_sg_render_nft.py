"""The backend-neutral nftables rendering of a port filter: golden text, and nft accepts it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

from netledger.libs.events.intents import AllowedPair, L2Port, SecurityGroupIntent, SgMembers, SgRuleIntent
from netledger.services.l2.sg.model import port_filter
from netledger.services.l2.sg.render_nft import render_port_table

PORT = L2Port(port_id="0123456789abcdef", network_id="n", mac_address="FA:16:3E:00:00:01", fixed_ips=("10.0.0.5",),
              port_security_enabled=True, security_groups=("sg-a",),
              allowed_address_pairs=(AllowedPair(ip_address="10.0.9.0/24"),))
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
  chain egress {
    type filter hook forward priority filter; policy accept;
    iifname "brq-n" ether saddr fa:16:3e:00:00:01 jump port_out
    oifname "brq-n" ether daddr fa:16:3e:00:00:01 jump port_in
  }
  chain port_out {
    ether saddr fa:16:3e:00:00:01 ip saddr 10.0.0.5 jump out_rules
    ether saddr fa:16:3e:00:00:01 ip saddr 10.0.9.0/24 jump out_rules
    udp sport 68 udp dport 67 accept
    icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } accept
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
    icmpv6 type { nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept
    ip daddr { 10.0.0.5, 10.0.9.0/24 } jump in_rules
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


def render() -> str:
    return render_port_table(port_filter(PORT, GROUPS, MEMBERS), bridge="brq-n", tap="tap01234567-89")


def test_golden_text_and_deterministic():
    assert render() == GOLDEN
    assert render() == render()


def test_no_port_security_no_table():
    assert port_filter(L2Port(port_id="p", network_id="n", mac_address="m"), GROUPS, MEMBERS) is None


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft"), reason="needs root and nft")
def test_nft_accepts_it_in_a_private_namespace():
    ns = f"nlt{uuid.uuid4().hex[:6]}-sgnft"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".nft") as fh:
            fh.write(render())
            fh.flush()
            r = subprocess.run(["ip", "netns", "exec", ns, "nft", "-c", "-f", fh.name], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=True)
