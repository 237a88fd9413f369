"""VPNaaS with real packets: two routers on the external network, each with a tenant
subnet and an instance; strongSwan (kernel-libipsec) per router namespace, driven by
the VPN worker from the API.

One lab, one story (the lab is expensive on shared 2-core machines): the connection
pair comes ACTIVE and the instances ping through the tunnel while the external side
carries only ESP-in-UDP; SNAT is untouched; deleting one side tears the tunnel down;
a wrong PSK stays DOWN and nothing tenant-addressed leaves in clear; deleting the
services stops every charon. Safety: all namespaces are the cluster's (``nlt<hex>-``);
charons are stopped by pid in teardown; their tmpfs /run dies with them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile

import pytest

from netledger.services.advanced.vpn.config import VpnConfig
from netledger.services.advanced.vpn.worker import VpnWorker
from netledger.services.l3.config import port_name
from netledger.services.l3.lab import EXT_IP, L3Lab, curl, ping, sh
from netledger.services.topology.compile_vpn import vpn_bucket

pytestmark = pytest.mark.dataplane
VPN = "/v2.0/vpn"
PSK = "correct horse battery staple"


@pytest.fixture
async def lab(cluster, nats_server, prefix):
    if not os.path.exists("/usr/lib/ipsec/charon") or not shutil.which("swanctl"):
        pytest.skip("strongSwan charon/swanctl not installed")
    lab = L3Lab(cluster, nats_server, prefix=prefix)
    state = tempfile.mkdtemp(prefix=f"{cluster.prefix}-vpn-")
    lab.vpn = {}
    try:
        await lab.start()
        for h in cluster.hosts:
            cfg = VpnConfig(host=h.name, netns_prefix=f"{h.netns}-", state_dir=os.path.join(state, h.name),
                            status_interval=1.0, resync_interval=2.0)
            w = VpnWorker(lab.bus, vpn_bucket(prefix), cfg)
            lab._spawn(f"vpn:{h.name}", w)
            lab.vpn[h.name] = w
        yield lab
    finally:
        try:
            await lab.close()
        finally:
            for w in lab.vpn.values():
                await w.driver.stop_all()      # by pid, even if the test failed half-way
            shutil.rmtree(state, ignore_errors=True)


async def site(lab, ext, cidr: str, host: int) -> dict:
    router = await lab.create("router", name=f"r-{cidr}", external_gateway_info={"network_id": ext["id"]})
    net, sub = await lab.lan(cidr)
    await lab.api("PUT", f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    port, vm = await lab.instance(host, net, sub)
    gw = router["external_gateway_info"]["external_fixed_ips"][0]
    return {"router": router, "subnet": sub, "vm": vm, "ip": port["fixed_ips"][0]["ip_address"],
            "gw": gw["ip_address"], "cidr": cidr}


async def vpn_create(lab, coll: str, key: str, **attrs) -> dict:
    return (await lab.api("POST", f"{VPN}/{coll}", {key: attrs}))[key]


async def service(lab, s: dict) -> None:
    s["service"] = await vpn_create(lab, "vpnservices", "vpnservice", router_id=s["router"]["id"])
    s["local"] = await vpn_create(lab, "endpoint-groups", "endpoint_group", type="subnet",
                                  endpoints=[s["subnet"]["id"]])


async def connect(lab, a: dict, b: dict, policies: tuple[dict, dict], psk: str = PSK) -> dict:
    peer = await vpn_create(lab, "endpoint-groups", "endpoint_group", type="cidr", endpoints=[b["cidr"]])
    ike, ipsec = policies
    return await vpn_create(lab, "ipsec-site-connections", "ipsec_site_connection", peer_address=b["gw"],
                            peer_id=b["gw"], psk=psk, vpnservice_id=a["service"]["id"], ikepolicy_id=ike["id"],
                            ipsecpolicy_id=ipsec["id"], local_ep_group_id=a["local"]["id"],
                            peer_ep_group_id=peer["id"], dpd={"action": "restart", "interval": 5, "timeout": 20})


def conn_status(lab, conn: dict) -> str | None:
    status, body = lab._call("GET", f"{VPN}/ipsec-site-connections/{conn['id']}")
    return body["ipsec_site_connection"]["status"] if status == 200 else None


def router_ns_and_qg(lab, s: dict) -> tuple[str, str]:
    rid = s["router"]["id"]
    host = lab._call("GET", f"/v2.0/routers/{rid}/l3-agents")[1]["agents"][0]["host"]
    ports = lab._call("GET", f"/v2.0/ports?device_id={rid}&device_owner=network:router_gateway")[1]["ports"]
    return lab.l3[host].cfg.netns(rid), port_name("qg", ports[0]["id"])


def capture_while(ns: str, dev: str, action, seconds: float = 4.0) -> str:
    """tcpdump on the router's external port while ``action`` runs; the decoded lines."""
    cap = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-nn", "-l", "-i", dev, "-c", "200",
                            "not arp and not ip6"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        sh("sleep", "1")           # tcpdump attaches
        action()
        sh("sleep", str(seconds / 4))
    finally:
        cap.terminate()
        out, _ = cap.communicate(timeout=10)
    return out


async def test_site_to_site(lab):
    ext, _ = await lab.external_network()
    a = await site(lab, ext, "10.61.0.0/24", 0)
    b = await site(lab, ext, "10.62.0.0/24", 1)
    await lab.wait(lambda: curl(a["vm"], f"http://{EXT_IP}:8000/") == a["gw"], 60, "SNAT before the VPN")
    ike = await vpn_create(lab, "ikepolicies", "ikepolicy", ike_version="v2", encryption_algorithm="aes-256",
                           auth_algorithm="sha256", pfs="group14")
    ipsec = await vpn_create(lab, "ipsecpolicies", "ipsecpolicy", encryption_algorithm="aes-256",
                             auth_algorithm="sha256", pfs="group14")
    for s in (a, b):
        await service(lab, s)
    ab = await connect(lab, a, b, (ike, ipsec))
    ba = await connect(lab, b, a, (ike, ipsec))
    await lab.wait(lambda: conn_status(lab, ab) == "ACTIVE" and conn_status(lab, ba) == "ACTIVE", 90,
                   "both site connections ACTIVE (real IKE and CHILD SAs)")
    await lab.wait(lambda: ping(a["vm"], b["ip"]), 30, "instances ping through the tunnel")
    assert ping(b["vm"], a["ip"])

    ns_a, qg_a = router_ns_and_qg(lab, a)
    wire = await asyncio.to_thread(capture_while, ns_a, qg_a, lambda: ping(a["vm"], b["ip"], count=5))
    assert "ESP" in wire, wire
    assert "ICMP" not in wire and "10.61." not in wire and "10.62." not in wire, wire
    assert curl(a["vm"], f"http://{EXT_IP}:8000/") == a["gw"], "internet traffic is still SNATed"
    mode = os.stat(os.path.join(lab.vpn[_host(lab, a)].cfg.statedir(a["router"]["id"]), "conns",
                                f"{ab['id']}.conf")).st_mode & 0o777
    assert mode == 0o600

    # Deleting one side tears the tunnel down; the other side notices.
    await lab.api("DELETE", f"{VPN}/ipsec-site-connections/{ab['id']}")
    await lab.wait(lambda: conn_status(lab, ba) == "DOWN", 60, "peer connection DOWN after delete")
    await lab.wait(lambda: not ping(a["vm"], b["ip"]), 20, "no tunnel any more")
    assert curl(a["vm"], f"http://{EXT_IP}:8000/") == a["gw"], "SNAT unchanged"

    # A wrong PSK never comes up, and tenant traffic to the peer never leaves in clear.
    bad = await connect(lab, a, b, (ike, ipsec), psk="not the right one")
    await lab.wait(lambda: conn_status(lab, bad) == "DOWN", 30, "wrong-PSK connection reported")
    wire = await asyncio.to_thread(capture_while, ns_a, qg_a, lambda: ping(a["vm"], b["ip"], count=3))
    assert "ICMP" not in wire and "10.62." not in wire, wire
    await asyncio.sleep(3)
    assert conn_status(lab, bad) == "DOWN" and conn_status(lab, ba) == "DOWN"

    for conn in (bad, ba):
        await lab.api("DELETE", f"{VPN}/ipsec-site-connections/{conn['id']}")
    for s in (a, b):
        await lab.api("DELETE", f"{VPN}/vpnservices/{s['service']['id']}")
    await lab.wait(lambda: all(not w.driver.procs for w in lab.vpn.values()), 30, "every charon stopped")
    assert curl(a["vm"], f"http://{EXT_IP}:8000/") == a["gw"]


def _host(lab, s: dict) -> str:
    return lab._call("GET", f"/v2.0/routers/{s['router']['id']}/l3-agents")[1]["agents"][0]["host"]
