"""VPNaaS, two connections on one router to two peers at the same time, with real packets.

Three routers on the external network, each with a tenant subnet and an instance:
A has site connections to B and to C (one charon, two IKE SAs, distinct PSKs); B and C
each have one back to A. All four connections come ACTIVE; instances ping across both
tunnels concurrently while A's external port carries only ESP-in-UDP, to both peers;
B and C, with no tunnel between them, cannot reach each other; deleting A->C takes
that tunnel down and leaves A<->B up; deleting the services stops every charon.
Safety: all namespaces are the cluster's (``nlt<hex>-``); charons are stopped by pid
in teardown (VpnLab.close); their tmpfs /run dies with them.
"""

from __future__ import annotations

import asyncio

import pytest

from netledger.services.advanced.vpn.lab import VPN, VpnLab, capture_while, concurrently, strongswan_missing
from netledger.services.advanced.vpn.sas import connection_up
from netledger.services.l3.lab import EXT_IP, curl, ping

pytestmark = pytest.mark.dataplane
PSK_AB = "correct horse battery staple"
PSK_AC = "a different secret for C"
# Every ping/curl/HTTP call runs in a thread: the workers share this event loop, and a
# blocked loop misses L3 heartbeats, which makes routers (and their charons) fail over.
off_loop = asyncio.to_thread


@pytest.fixture
async def lab(cluster, nats_server, prefix):
    if why := strongswan_missing():
        pytest.skip(why)
    lab = VpnLab(cluster, nats_server, prefix=prefix)
    try:
        await lab.start()
        yield lab
    finally:
        await lab.close()


async def test_two_peers_at_once(lab):
    ext, _ = await lab.external_network()
    a = await lab.site(ext, "10.71.0.0/24", 0)
    b = await lab.site(ext, "10.72.0.0/24", 1)
    c = await lab.site(ext, "10.73.0.0/24", 1)
    await lab.wait(lambda: curl(a["vm"], f"http://{EXT_IP}:8000/") == a["gw"], 60, "SNAT before the VPN")
    pol = await lab.policies()
    for s in (a, b, c):
        await lab.service(s)
    ab = await lab.connect(a, b, pol, PSK_AB)
    ac = await lab.connect(a, c, pol, PSK_AC)
    ba = await lab.connect(b, a, pol, PSK_AB)
    ca = await lab.connect(c, a, pol, PSK_AC)
    conns = (ab, ac, ba, ca)
    await lab.wait(lambda: all(lab.conn_status(x) == "ACTIVE" for x in conns), 120,
                   "all four site connections ACTIVE (real IKE and CHILD SAs)")
    await lab.wait(lambda: ping(a["vm"], b["ip"]) and ping(a["vm"], c["ip"]), 30, "A reaches B and C")

    # Both tunnels carry traffic at the same time, in both directions.
    pings = (lambda: ping(a["vm"], b["ip"], count=8), lambda: ping(a["vm"], c["ip"], count=8),
             lambda: ping(b["vm"], a["ip"], count=8), lambda: ping(c["vm"], a["ip"], count=8))
    assert await off_loop(concurrently, *pings) == [True] * 4

    # On A's wire: ESP-in-UDP to both peers, nothing tenant-addressed in clear.
    ns_a, qg_a = await off_loop(lab.router_ns_and_qg, a)
    got: list = []
    wire = await off_loop(capture_while, ns_a, qg_a, lambda: got.extend(concurrently(*pings[:2])))
    assert got == [True, True], got
    assert "ESP" in wire and f"{b['gw']}.4500" in wire and f"{c['gw']}.4500" in wire, wire
    assert "ICMP" not in wire and not any(f"10.7{i}." in wire for i in (1, 2, 3)), wire

    # A's one charon holds both connections' SAs; B and C have no tunnel between them.
    states = await lab.vpn[await off_loop(lab.router_host, a)].driver.sa_states(a["router"]["id"])
    assert connection_up(states, ab["id"]) and connection_up(states, ac["id"]), sorted(states)
    assert await off_loop(concurrently, lambda: ping(b["vm"], c["ip"]), lambda: ping(c["vm"], b["ip"])) == [False] * 2
    assert await off_loop(curl, a["vm"], f"http://{EXT_IP}:8000/") == a["gw"], "internet traffic is still SNATed"

    # Removing A->C takes only that tunnel down.
    await lab.api("DELETE", f"{VPN}/ipsec-site-connections/{ac['id']}")
    await lab.wait(lambda: lab.conn_status(ca) == "DOWN", 60, "C's connection DOWN after A->C is deleted")
    await lab.wait(lambda: not ping(a["vm"], c["ip"]), 20, "no A<->C tunnel any more")
    assert [await off_loop(lab.conn_status, x) for x in (ab, ba)] == ["ACTIVE"] * 2, "A<->B unaffected"
    assert await off_loop(concurrently, pings[0], pings[2]) == [True, True]

    for conn in (ab, ba, ca):
        await lab.api("DELETE", f"{VPN}/ipsec-site-connections/{conn['id']}")
    for s in (a, b, c):
        await lab.api("DELETE", f"{VPN}/vpnservices/{s['service']['id']}")
    await lab.wait(lambda: lab.charons() == 0, 30, "every charon stopped")
    assert await off_loop(curl, a["vm"], f"http://{EXT_IP}:8000/") == a["gw"]
