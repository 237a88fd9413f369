"""FWaaS v2 with real packets, in Neutron's terms (neutron-fwaas iptables v2 driver:
ingress = `-o <port>`, egress = `-i <port>`): a group's ingress policy filters what the
router sends out through the port INTO the port's network, its egress policy what the
port's network sends into the router; a direction without a policy is denied.

On an interface port, ingress is traffic reaching the VM subnet (from outside via a
floating IP), egress what the subnet sends out. On the gateway port, ingress is what
the router sends to the external network, egress what arrives from it.

The whole stack runs (API + topology subprocesses, L2 and L3 workers per simulated
host); the "internet" is a namespace on 203.0.113.0/24. Extra servers started here
are stopped by pid in ``finally``; the lab and cluster fixtures delete namespaces.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from netledger.services.l3.lab import ECHO, EXT_IP, L3Lab, ping, sh

pytestmark = pytest.mark.dataplane
B = "/v2.0/fwaas"
TCP_ECHO = r"""
import socket, sys, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2]))); srv.listen()
def serve(c):
    while (d := c.recv(100)):
        c.sendall(d)
while True:
    c, _ = srv.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
"""
TCP_CLIENT = r"""
import socket, sys, time
for _ in range(100):                 # the server may still be starting
    try:
        s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
        break
    except OSError:
        time.sleep(0.2)
for line in sys.stdin:
    s.sendall(line.encode()); print(s.recv(100).decode().strip(), flush=True)
"""


@pytest.fixture
async def lab(cluster, nats_server, prefix):
    lab = L3Lab(cluster, nats_server, prefix=prefix)
    lab.extra = []
    try:
        await lab.start()
        yield lab
    finally:
        for proc in lab.extra:           # ours, by pid
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        await lab.close()


def serve(lab, ns: str, ip: str, port: int, code: str = ECHO) -> None:
    lab.extra.append(subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", code, ip, str(port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def curl_rc(ns: str, url: str, timeout: float = 2) -> int:
    """curl's exit code: 0 answered, 7 refused (reject), 28 timed out (deny)."""
    return sh("ip", "netns", "exec", ns, "curl", "-s", "-o", "/dev/null", "-m", str(timeout), url,
              check=False, timeout=timeout + 5).returncode


async def fw(lab, coll: str, kind: str, **attrs) -> dict:
    return (await lab.api("POST", f"{B}/{coll}", {kind: attrs}))[kind]


async def rule(lab, **attrs) -> dict:
    return await fw(lab, "firewall_rules", "firewall_rule", **attrs)


async def setup(lab):
    """Router with a gateway and one LAN; an instance with a floating IP serving 8080/8081."""
    ext, _ = await lab.external_network()
    router = await lab.create("router", name="r", external_gateway_info={"network_id": ext["id"]})
    net, sub = await lab.lan("10.61.0.0/24")
    await lab.api("PUT", f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    port, vm = await lab.instance(0, net, sub)
    # Only the router's firewall is under test: the instance port carries no security group.
    await lab.api("PUT", f"/v2.0/ports/{port['id']}", {"port": {"security_groups": [],
                                                                  "port_security_enabled": False}})
    ip = port["fixed_ips"][0]["ip_address"]
    fip = (await lab.create("floatingip", floating_network_id=ext["id"], port_id=port["id"]))["floating_ip_address"]
    for p in (8080, 8081):
        serve(lab, vm, ip, p)
    gw = (await lab.api("GET", f"/v2.0/ports?device_id={router['id']}&device_owner=network:router_gateway"))
    qr = (await lab.api("GET", f"/v2.0/ports?device_id={router['id']}&device_owner=network:router_interface"))
    await lab.wait(lambda: curl_rc(lab.ext_ns, f"http://{fip}:8080/") == 0, 40, "inbound through the FIP")
    return router, {"gateway": gw["ports"][0]["id"], "interface": qr["ports"][0]["id"]}, vm, ip, fip


async def group_status(lab, gid: str) -> str:
    return (await lab.api("GET", f"{B}/firewall_groups/{gid}"))["firewall_group"]["status"]


async def wait_status(lab, gid: str, status: str) -> None:
    async def check():
        return await group_status(lab, gid) == status
    await lab.wait(lambda: check(), 20, f"group {status}")


async def test_ingress_on_interface_port_filters_what_reaches_the_subnet(lab):
    """The reported bug: an ingress policy allowing only tcp/8080 on the router's
    interface port must leave tcp/8081 of the VM unreachable through its floating IP."""
    router, ports, vm, ip, fip = await setup(lab)
    url = f"http://{fip}:%d/"
    allow = await rule(lab, name="web", protocol="tcp", destination_port="8080", source_ip_address=EXT_IP,
                       action="allow")
    allow_tcp = await rule(lab, name="long", protocol="tcp", destination_port="8090", action="allow")
    pol = await fw(lab, "firewall_policies", "firewall_policy", name="in", firewall_rules=[allow["id"], allow_tcp["id"]])
    group = await fw(lab, "firewall_groups", "firewall_group", name="g", ingress_firewall_policy_id=pol["id"],
                     ports=[ports["interface"]])
    await wait_status(lab, group["id"], "ACTIVE")
    assert curl_rc(lab.ext_ns, url % 8080) == 0, "allowed"
    assert curl_rc(lab.ext_ns, url % 8081) == 28, "default deny: silently dropped"
    assert not ping(lab.ext_ns, fip), "ping is not allowed"
    assert curl_rc(vm, f"http://{EXT_IP}:8000/", 1) == 28, "no egress policy: the subnet's new connections denied"

    # reject answers at once (TCP reset -> refused) where deny times out
    rej = await rule(lab, protocol="tcp", destination_port="8081", action="reject")
    await lab.api("PUT", f"{B}/firewall_policies/{pol['id']}/insert_rule", {"firewall_rule_id": rej["id"]})
    await lab.wait(lambda: curl_rc(lab.ext_ns, url % 8081) == 7, 20, "reject refuses")

    # a deny inserted before the allow closes 8080; removing it opens it again
    deny = await rule(lab, protocol="tcp", destination_port="8080", action="deny")
    await lab.api("PUT", f"{B}/firewall_policies/{pol['id']}/insert_rule",
                  {"firewall_rule_id": deny["id"], "insert_before": allow["id"]})
    await lab.wait(lambda: curl_rc(lab.ext_ns, url % 8080, 1) == 28, 20, "deny before allow closes 8080")
    await lab.api("PUT", f"{B}/firewall_policies/{pol['id']}/remove_rule", {"firewall_rule_id": deny["id"]})
    await lab.wait(lambda: curl_rc(lab.ext_ns, url % 8080) == 0, 20, "removing the deny reopens 8080")

    # an established connection survives the table being replaced for an unrelated rule
    serve(lab, vm, ip, 8090, TCP_ECHO)
    client = subprocess.Popen(["ip", "netns", "exec", lab.ext_ns, sys.executable, "-c", TCP_CLIENT, fip, "8090"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lab.extra.append(client)
    assert await asyncio.to_thread(_exchange, client, "one") == "one"
    host = lab._call("GET", f"/v2.0/routers/{router['id']}/l3-agents")[1]["agents"][0]["host"]
    ns = lab.l3[host].cfg.netns(router["id"])
    udp = await rule(lab, protocol="udp", destination_port="5353", action="allow")
    await lab.api("PUT", f"{B}/firewall_policies/{pol['id']}/insert_rule", {"firewall_rule_id": udp["id"]})
    await lab.wait(lambda: "5353" in _table(ns), 20, "unrelated rule applied")
    assert await asyncio.to_thread(_exchange, client, "two") == "two", "established connection survived"
    # disabling the allow of 8080 closes new connections to it (and only to it)
    await lab.api("PUT", f"{B}/firewall_rules/{allow['id']}", {"firewall_rule": {"enabled": False}})
    await lab.wait(lambda: curl_rc(lab.ext_ns, url % 8080, 1) == 28, 20, "disabled rule no longer allows")
    assert await asyncio.to_thread(_exchange, client, "three") == "three"


def _exchange(client: subprocess.Popen, text: str) -> str:
    client.stdin.write(text + "\n")
    client.stdin.flush()
    return client.stdout.readline().strip()


def _table(ns: str) -> str:
    return sh("ip", "netns", "exec", ns, "nft", "list", "table", "ip", "netledger_l3", check=False).stdout


async def test_egress_on_interface_port_filters_what_the_subnet_sends(lab):
    router, ports, vm, ip, fip = await setup(lab)
    serve(lab, lab.ext_ns, EXT_IP, 8001)
    out_ok, out_blocked = f"http://{EXT_IP}:8000/", f"http://{EXT_IP}:8001/"
    await lab.wait(lambda: curl_rc(vm, out_blocked) == 0, 20, "both external ports reachable before")
    deny = await rule(lab, protocol="tcp", destination_port="8001", action="deny")
    anything = await rule(lab, protocol="any", action="allow")
    pol = await fw(lab, "firewall_policies", "firewall_policy", firewall_rules=[deny["id"], anything["id"]])
    group = await fw(lab, "firewall_groups", "firewall_group", egress_firewall_policy_id=pol["id"],
                     ports=[ports["interface"]])
    await wait_status(lab, group["id"], "ACTIVE")
    assert curl_rc(vm, out_blocked, 1) == 28, "egress deny on one port"
    out = sh("ip", "netns", "exec", vm, "curl", "-s", "-m", "2", out_ok, check=False).stdout.strip()
    assert out == fip, "other ports pass, and leave through the floating IP (NAT still works)"
    assert curl_rc(lab.ext_ns, f"http://{fip}:8080/", 1) == 28, "no ingress policy: inbound denied (Neutron)"

    await lab.api("PUT", f"{B}/firewall_groups/{group['id']}", {"firewall_group": {"ports": []}})
    await lab.wait(lambda: curl_rc(vm, out_blocked) == 0, 20, "detached: default routing again")
    assert curl_rc(lab.ext_ns, f"http://{fip}:8080/") == 0, "detached: inbound open again"
    assert await group_status(lab, group["id"]) == "INACTIVE"
    await lab.api("DELETE", f"{B}/firewall_groups/{group['id']}")


async def test_gateway_port_ingress_is_toward_the_external_network_egress_from_it(lab):
    """The same rule on the gateway port: ingress = what the router sends into the
    external network, egress = what arrives from it."""
    router, ports, vm, ip, fip = await setup(lab)
    serve(lab, lab.ext_ns, EXT_IP, 8001)
    out_ok, out_blocked = f"http://{EXT_IP}:8000/", f"http://{EXT_IP}:8001/"
    await lab.wait(lambda: curl_rc(vm, out_blocked) == 0, 20, "both external ports reachable before")
    to_ext = await fw(lab, "firewall_policies", "firewall_policy", firewall_rules=[
        (await rule(lab, protocol="tcp", destination_port="8001", action="deny"))["id"],
        (await rule(lab, protocol="any", action="allow"))["id"]])
    from_ext = await fw(lab, "firewall_policies", "firewall_policy", firewall_rules=[
        (await rule(lab, protocol="tcp", destination_port="8080", action="allow"))["id"]])
    group = await fw(lab, "firewall_groups", "firewall_group", ingress_firewall_policy_id=to_ext["id"],
                     egress_firewall_policy_id=from_ext["id"], ports=[ports["gateway"]])
    await wait_status(lab, group["id"], "ACTIVE")
    assert curl_rc(vm, out_blocked, 1) == 28, "ingress (into the external network) denies tcp/8001"
    assert curl_rc(vm, out_ok) == 0, "ingress allows the rest"
    assert curl_rc(lab.ext_ns, f"http://{fip}:8080/") == 0, "egress (from the external network) allows 8080"
    assert curl_rc(lab.ext_ns, f"http://{fip}:8081/", 1) == 28, "and nothing else"
    await lab.api("PUT", f"{B}/firewall_groups/{group['id']}", {"firewall_group": {"ports": []}})
    await lab.wait(lambda: curl_rc(lab.ext_ns, f"http://{fip}:8081/") == 0, 20, "detached: open again")
