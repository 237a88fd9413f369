"""OVS: traffic to and from an allowed-address-pair with its own MAC meets the port's rules.

X (host 0) owns 10.0.0.1 and a pair (10.0.0.8, its own MAC) that lives on a macvlan
beside eth0 in X's namespace; Y (host 1) is in no group X admits. Before pair MACs were
dispatched into X's ingress pipeline, a request to the pair MAC skipped X's conntrack
zone, so X's reply was "invalid" there and dropped: the pair did not work at all (this
test's control failed). Now the pair answers when X's rules admit it and only then.
"""

from __future__ import annotations

import msgspec
import pytest

from netledger.libs.events.intents import AllowedPair, SgRuleIntent
from tests.dataplane.test_sg_enforcement import EGRESS, ICMP_ANY, NET, Sg, eventually, ping1

pytestmark = pytest.mark.dataplane

SSH = SgRuleIntent(direction="ingress", protocol=6, port_range_min=22, port_range_max=22)
PAIR_MAC = "fa:16:3e:5a:00:88"


async def test_pair_mac_traffic_is_filtered(l2env, dp):
    env, sg = l2env, Sg(l2env)
    peers = tuple(h.tunnel_ip for h in env.cluster.hosts)
    await sg.put_group("sg-x", EGRESS, SSH, ICMP_ANY)
    await sg.put_group("sg-y", EGRESS, ICMP_ANY)
    for i in (0, 1):
        await env.put(i, msgspec.structs.replace(NET, peers=peers))
    _, x = await sg.port(0, "x", "10.0.0.1", ("sg-x",),
                         allowed_address_pairs=(AllowedPair(ip_address="10.0.0.8", mac_address=PAIR_MAC),))
    _, y = await sg.port(1, "y", "10.0.0.2", ("sg-y",))
    for _, port in sg.ports.values():
        await env.wait_status(port.port_id, "ACTIVE")
    # As keepalived or a nested container would hold it: only pair0 answers ARP for the
    # pair IP, and traffic from the pair IP leaves through pair0 (a source rule).
    dp.sh("ip", "netns", "exec", x, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1",
          "net.ipv4.conf.all.arp_announce=2")
    dp.sh("ip", "-n", x, "link", "add", "link", "eth0", "name", "pair0", "address", PAIR_MAC, "type", "macvlan",
          "mode", "bridge")
    dp.sh("ip", "netns", "exec", x, "sysctl", "-qw", "net.ipv6.conf.pair0.disable_ipv6=1")
    dp.sh("ip", "-n", x, "addr", "add", "10.0.0.8/24", "dev", "pair0", "noprefixroute")
    dp.sh("ip", "-n", x, "link", "set", "pair0", "up")
    dp.sh("ip", "-n", x, "rule", "add", "from", "10.0.0.8", "table", "100")
    dp.sh("ip", "-n", x, "route", "add", "10.0.0.0/24", "dev", "pair0", "src", "10.0.0.8", "table", "100")

    # control: with ICMP admitted, both of X's addresses answer Y
    assert await eventually(lambda: ping1(dp, y, "10.0.0.1")), "control: X's own address"
    assert await eventually(lambda: ping1(dp, y, "10.0.0.8")), "control: X's pair address (pair MAC)"

    # only tcp/22 admitted: neither address may answer a ping any more
    await sg.put_group("sg-x", EGRESS, SSH)
    assert await eventually(lambda: ping1(dp, y, "10.0.0.1"), want=False), "ICMP closed to X's own MAC"
    dp.sh("ip", "-n", y, "neigh", "flush", "all")
    assert await eventually(lambda: ping1(dp, y, "10.0.0.8"), want=False), "ICMP closed to the pair MAC too"

    # and open again
    await sg.put_group("sg-x", EGRESS, SSH, ICMP_ANY)
    assert await eventually(lambda: ping1(dp, y, "10.0.0.8")), "ICMP reopened to the pair MAC"
