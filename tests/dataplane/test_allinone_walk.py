"""The whole walk against the all-in-one exactly as `make up` starts it (`netledger up
--detach`: embedded NATS, topology, API and every worker as supervised subprocesses),
through the public API and the `netledger port plug` command only:

a VM port with DHCP, a router with SNAT and a floating IP, a security group opening
one port, a firewall group blocking one port, an HTTP load balancer over two members
reached through its VIP's floating IP, a VPN between two routers that carries a ping;
then everything is deleted and the host shown clean (no namespaces, processes or OVS
ports of ours left), before and after `netledger down`.

Isolation: a private var dir, API and NATS ports, and a per-run namespace prefix
(``aio_netns`` / ``aio_netns_prefix``), so it never meets another all-in-one on the
machine. The "internet" is a port of the external network (203.0.113.0/24) plugged
into a namespace of ours. Every namespace and process is removed in ``finally``.
Per-step times are printed (``-s``), never asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest

from netledger.services.l3.lab import ECHO
from tests.support import free_port

pytestmark = pytest.mark.dataplane
CLI = [sys.executable, "-m", "netledger.cli"]
NAMED = r"""
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = sys.argv[3].encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"""
DHCP_SCRIPT = ('#!/bin/sh\n[ "$1" = bound ] || exit 0\necho "ip=$ip"\nip addr add "$ip/$mask" dev "$interface"\n'
               '[ -n "$router" ] && ip route replace default via "${router%% *}"\nexit 0\n')


def sh(*cmd: str, check: bool = True, timeout: float = 60, env=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode:
        raise AssertionError(f"{' '.join(cmd)} -> {proc.returncode}: {proc.stdout}{proc.stderr}")
    return proc


def netns_list() -> list[str]:
    return [line.split()[0] for line in sh("ip", "netns", "list").stdout.splitlines() if line.strip()]


def curl(ns: str, url: str, timeout: float = 2) -> str | None:
    r = sh("ip", "netns", "exec", ns, "curl", "-s", "-m", str(timeout), url, check=False, timeout=timeout + 10)
    return r.stdout.strip() if r.returncode == 0 else None


def curl_rc(ns: str, url: str, timeout: float = 2) -> int:
    return sh("ip", "netns", "exec", ns, "curl", "-s", "-o", "/dev/null", "-m", str(timeout), url,
              check=False, timeout=timeout + 10).returncode


def ping(ns: str, ip: str) -> bool:
    return sh("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", ip, check=False).returncode == 0


def lease(ns: str, script: str) -> str | None:
    """udhcpc in the instance: the script configures the lease and prints ip=<address>."""
    r = sh("ip", "netns", "exec", ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "3", "-T", "1",
           "-s", script, check=False)
    print(f"udhcpc {ns}: rc={r.returncode} {r.stdout.strip()} {r.stderr.strip()[-200:]}")
    return r.stdout if "ip=" in r.stdout else None


def until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {what}")
        time.sleep(0.5)


class Walk:
    """The all-in-one under test plus what the walk created (for cleanup, by pid/name)."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.prefix = f"nle{tag}-"
        self.var = tempfile.mkdtemp(prefix=f"nle2e-{tag}-")
        os.chmod(self.var, 0o755)    # as ./var: dnsmasq drops to nobody and re-reads its hosts file there
        self.port = free_port()
        self.env = {**os.environ, "NETLEDGER_VAR_DIR": self.var, "NETLEDGER_API_PORT": str(self.port),
                    "NETLEDGER_NATS_PORT": str(free_port()), "NETLEDGER_AIO_NETNS": f"{self.prefix}aio",
                    "NETLEDGER_AIO_NETNS_PREFIX": f"{self.prefix}a-", "NETLEDGER_CONFIG": self._empty_config()}
        self.netns: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self.times: list[tuple[str, float]] = []
        self._t = time.monotonic()
        self.keep_logs = False

    def _empty_config(self) -> str:
        """Defaults only: an explicit empty file keeps a ./netledger.toml of the checkout out
        (a missing explicit file is a configuration error, as it should be)."""
        path = os.path.join(self.var, "walk.toml")
        open(path, "w").close()
        return path

    def step(self, name: str) -> None:
        now = time.monotonic()
        self.times.append((name, now - self._t))
        self._t = now

    def cli(self, *args: str, timeout: float = 120) -> str:
        return sh(*CLI, *args, env=self.env, timeout=timeout).stdout

    def call(self, method: str, path: str, body=None) -> tuple[int, dict | None]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, json.loads(raw) if raw else None

    def api(self, method: str, path: str, body=None, ok=(200, 201, 202, 204)) -> dict | None:
        status, out = self.call(method, path, body)
        assert status in ok, f"{method} {path} -> {status}: {out}"
        return out

    def create(self, path: str, key: str, **attrs) -> dict:
        return self.api("POST", path, {key: attrs})[key]

    def serve(self, ns: str, ip: str, port: int, name: str | None = None) -> None:
        code, extra = (NAMED, [name]) if name else (ECHO, [])
        self.procs.append(subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", code, ip, str(port),
                                            *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def vm(self, name: str, net: dict, **attrs) -> tuple[dict, str]:
        """A port bound to this host, plugged (no --host-netns/--ovsdb: the all-in-one's
        defaults), ACTIVE; returns (port, namespace)."""
        port = self.create("/v2.0/ports", "port", network_id=net["id"], device_id=f"vm-{name}",
                           device_owner="compute:nova", **{"binding:host_id": os.uname().nodename}, **attrs)
        ns = f"{self.prefix}{name}"
        self.netns.append(ns)
        sh("ip", "netns", "add", ns)
        self.cli("port", "plug", port["id"], "--netns", ns)
        until(lambda: self.api("GET", f"/v2.0/ports/{port['id']}")["port"]["status"] == "ACTIVE", 60,
              f"{name} port ACTIVE")
        return port, ns

    def ports_in_use(self, net_id: str) -> list[str]:
        """The network's ports other than its DHCP port (which goes with the network)."""
        return [f"{p['id']} {p['device_owner']} {p['device_id']}"
                for p in self.api("GET", f"/v2.0/ports?network_id={net_id}")["ports"]
                if p["device_owner"] != "network:dhcp"]

    def wait_lb(self, lb_id: str) -> None:
        until(lambda: self.api("GET", f"/v2/lbaas/loadbalancers/{lb_id}")["loadbalancer"]["provisioning_status"]
              == "ACTIVE", 90, "load balancer ACTIVE")

    def lb_make(self, path: str, key: str, lb_id: str | None, **attrs) -> dict:
        out = self.create(f"/v2/lbaas/{path}", key, **attrs)
        self.wait_lb(lb_id or out["id"])
        return out

    def ours(self, running: bool = True) -> dict:
        """What of the all-in-one is on the host: namespaces, processes naming our var dir
        (while running: besides the supervised services and OVS), OVS interfaces of VMs,
        routers, DHCP and load balancers (external_ids iface-id)."""
        spaces = [n for n in netns_list() if n.startswith(self.prefix)]
        procs = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            infra = any(word in cmd for word in ("netledger.cli", "nats-server", "ovsdb-server", "ovs-vswitchd"))
            if self.var in cmd and not (running and infra) and int(pid) != os.getpid():
                procs.append(cmd[:120])
        db = os.path.join(self.var, "ovs", "db.sock")
        ports = []
        if os.path.exists(db):
            out = sh("ovs-vsctl", f"--db=unix:{db}", "--format=json", "--columns=name,external_ids", "list",
                     "Interface", check=False).stdout
            for name, ids in (json.loads(out)["data"] if out else []):
                if any(k == "iface-id" for k, _ in ids[1]):
                    ports.append(name)
        return {"namespaces": spaces, "processes": procs, "ovs_ports": ports}

    def cleanup(self) -> None:
        sh(*CLI, "down", env=self.env, check=False, timeout=120)
        for proc in self.procs:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        for ns in netns_list():
            if ns.startswith(self.prefix):
                sh("ip", "netns", "delete", ns, check=False)
        if self.keep_logs and os.path.isdir(os.path.join(self.var, "log")):
            shutil.copytree(os.path.join(self.var, "log"), self.var.rstrip("/") + "-logs", dirs_exist_ok=True)
            print(f"all-in-one logs kept in {self.var.rstrip('/')}-logs")
        shutil.rmtree(self.var, ignore_errors=True)


@pytest.fixture
def walk(request):
    w = Walk()
    failed = request.session.testsfailed
    try:
        yield w
    finally:
        w.keep_logs = request.session.testsfailed > failed
        print("\nwalk: seconds per step")
        for name, secs in w.times:
            print(f"  {secs:7.1f}  {name}")
        if os.environ.get("NL_E2E_TIMES"):
            with open(os.environ["NL_E2E_TIMES"], "w") as fh:
                json.dump(w.times, fh)
        w.cleanup()


def test_the_whole_walk_on_the_allinone(walk):
    w = walk
    out = w.cli("up", "--detach", timeout=180)
    assert "netledger ready" in out
    types = {"Open vSwitch agent", "L3 agent", "DHCP agent", "Loadbalancer agent", "VPN agent"}
    until(lambda: {a["agent_type"] for a in w.api("GET", "/v2.0/agents")["agents"] if a["alive"]} >= types, 60,
          "every worker's agent alive")
    assert "DEAD" not in w.cli("status")
    w.step("up (all services and workers, agents alive)")

    # networks: an external one (the "internet" is a port on it) and a LAN with DHCP
    ext = w.create("/v2.0/networks", "network", name="public", **{"router:external": True})
    w.create("/v2.0/subnets", "subnet", network_id=ext["id"], cidr="203.0.113.0/24", ip_version=4,
             gateway_ip="203.0.113.1", enable_dhcp=False,
             allocation_pools=[{"start": "203.0.113.10", "end": "203.0.113.200"}])
    lan = w.create("/v2.0/networks", "network", name="lan")
    lan_sub = w.create("/v2.0/subnets", "subnet", network_id=lan["id"], cidr="10.71.0.0/24", ip_version=4)
    inet_port, inet = w.vm("inet", ext, fixed_ips=[{"ip_address": "203.0.113.250"}], port_security_enabled=False)
    sh("ip", "-n", inet, "addr", "add", "203.0.113.250/24", "dev", "eth0")
    w.serve(inet, "203.0.113.250", 8000)
    w.step("networks, subnets, internet namespace")

    # a VM with a security group opening tcp/8080, its address by DHCP
    sg = w.create("/v2.0/security-groups", "security_group", name="web")
    w.create("/v2.0/security-group-rules", "security_group_rule", security_group_id=sg["id"], direction="ingress",
             ethertype="IPv4", protocol="tcp", port_range_min=8080, port_range_max=8080)
    vm1_port, vm1 = w.vm("vm1", lan, security_groups=[sg["id"]])
    vm1_ip = vm1_port["fixed_ips"][0]["ip_address"]
    script = os.path.join(w.var, "udhcpc.sh")
    with open(script, "w") as fh:
        fh.write(DHCP_SCRIPT)
    os.chmod(script, 0o755)
    dhcp = until(lambda: lease(vm1, script), 60, "DHCP lease")
    assert f"ip={vm1_ip}" in dhcp, dhcp
    w.step("VM port with security group, plugged, DHCP lease")

    # a router with SNAT, then a floating IP
    r1 = w.create("/v2.0/routers", "router", name="r1", external_gateway_info={"network_id": ext["id"]})
    w.api("PUT", f"/v2.0/routers/{r1['id']}/add_router_interface", {"subnet_id": lan_sub["id"]})
    r1_gw = r1["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    until(lambda: curl(vm1, "http://203.0.113.250:8000/") == r1_gw, 60, "SNAT to the router's gateway address")
    fip1 = w.create("/v2.0/floatingips", "floatingip", floating_network_id=ext["id"], port_id=vm1_port["id"])
    fip1_ip = fip1["floating_ip_address"]
    for p in (8080, 8081):
        w.serve(vm1, vm1_ip, p)
    until(lambda: curl(inet, f"http://{fip1_ip}:8080/") == "203.0.113.250", 60, "inbound through the floating IP")
    assert curl(vm1, "http://203.0.113.250:8000/") == fip1_ip, "outbound leaves through the floating IP"
    assert curl_rc(inet, f"http://{fip1_ip}:8081/") == 28, "the security group opens only tcp/8080"
    w.step("router, SNAT, floating IP, security group enforced")

    # a firewall group on the router's interface port: its ingress policy (into the LAN)
    # denies tcp/8080 to vm1 and allows the rest; egress (from the LAN) allows all
    fw = "/v2.0/fwaas"
    deny = w.create(f"{fw}/firewall_rules", "firewall_rule", protocol="tcp", destination_port="8080",
                    destination_ip_address=vm1_ip, action="deny")
    anyrule = w.create(f"{fw}/firewall_rules", "firewall_rule", protocol="any", action="allow")
    anyrule2 = w.create(f"{fw}/firewall_rules", "firewall_rule", protocol="any", action="allow")
    ing = w.create(f"{fw}/firewall_policies", "firewall_policy", firewall_rules=[deny["id"], anyrule["id"]])
    egr = w.create(f"{fw}/firewall_policies", "firewall_policy", firewall_rules=[anyrule2["id"]])
    qr = w.api("GET", f"/v2.0/ports?device_id={r1['id']}&device_owner=network:router_interface")["ports"][0]
    group = w.create(f"{fw}/firewall_groups", "firewall_group", ingress_firewall_policy_id=ing["id"],
                     egress_firewall_policy_id=egr["id"], ports=[qr["id"]])
    until(lambda: w.api("GET", f"{fw}/firewall_groups/{group['id']}")["firewall_group"]["status"] == "ACTIVE", 60,
          "firewall group ACTIVE")
    until(lambda: curl_rc(inet, f"http://{fip1_ip}:8080/", 1) == 28, 30, "the firewall blocks tcp/8080")
    assert curl(vm1, "http://203.0.113.250:8000/") == fip1_ip, "egress still open"
    w.step("firewall group blocks one port")

    # an HTTP load balancer over two members, reached through its VIP's floating IP
    members = [(vm1, vm1_ip, "be1")]
    vm2_port, vm2 = w.vm("vm2", lan, security_groups=[sg["id"]])
    vm2_ip = vm2_port["fixed_ips"][0]["ip_address"]
    until(lambda: lease(vm2, script), 60, "vm2 DHCP lease")
    members.append((vm2, vm2_ip, "be2"))
    for ns, ip, name in members:
        w.serve(ns, ip, 8090, name)
    w.create("/v2.0/security-group-rules", "security_group_rule", security_group_id=sg["id"], direction="ingress",
             ethertype="IPv4", protocol="tcp", port_range_min=8090, port_range_max=8090,
             remote_ip_prefix="10.71.0.0/24")   # members answer the LB (same subnet) only
    lb = w.lb_make("loadbalancers", "loadbalancer", None, name="lb", vip_subnet_id=lan_sub["id"])
    li = w.lb_make("listeners", "listener", lb["id"], loadbalancer_id=lb["id"], protocol="HTTP", protocol_port=80)
    pool = w.lb_make("pools", "pool", lb["id"], listener_id=li["id"], protocol="HTTP", lb_algorithm="ROUND_ROBIN")
    for _, ip, name in members:
        w.lb_make(f"pools/{pool['id']}/members", "member", lb["id"], address=ip, protocol_port=8090, name=name)
    lb_fip = w.create("/v2.0/floatingips", "floatingip", floating_network_id=ext["id"], port_id=lb["vip_port_id"])
    url = f"http://{lb_fip['floating_ip_address']}/"
    until(lambda: curl(inet, url) in ("be1", "be2"), 90, "the VIP answers through its floating IP")
    assert {curl(inet, url) for _ in range(6)} == {"be1", "be2"}, "both members serve"
    w.step("load balancer over two members via the VIP's floating IP")

    # a VPN between r1 and a second router r2; vm1 pings vm3 through the tunnel
    lan2 = w.create("/v2.0/networks", "network", name="lan2")
    lan2_sub = w.create("/v2.0/subnets", "subnet", network_id=lan2["id"], cidr="10.72.0.0/24", ip_version=4)
    r2 = w.create("/v2.0/routers", "router", name="r2", external_gateway_info={"network_id": ext["id"]})
    w.api("PUT", f"/v2.0/routers/{r2['id']}/add_router_interface", {"subnet_id": lan2_sub["id"]})
    r2_gw = r2["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    icmp = w.create("/v2.0/security-groups", "security_group", name="icmp")
    w.create("/v2.0/security-group-rules", "security_group_rule", security_group_id=icmp["id"],
             direction="ingress", ethertype="IPv4", protocol="icmp")
    vm3_port, vm3 = w.vm("vm3", lan2, security_groups=[icmp["id"]])
    vm3_ip = vm3_port["fixed_ips"][0]["ip_address"]
    until(lambda: lease(vm3, script), 60, "vm3 DHCP lease")
    assert not ping(vm1, vm3_ip), "no route between the LANs before the VPN"
    vpn = "/v2.0/vpn"
    ike = w.create(f"{vpn}/ikepolicies", "ikepolicy", ike_version="v2", encryption_algorithm="aes-256",
                   auth_algorithm="sha256", pfs="group14")
    ipsec = w.create(f"{vpn}/ipsecpolicies", "ipsecpolicy", encryption_algorithm="aes-256",
                     auth_algorithm="sha256", pfs="group14")
    conns, vpn_objs = [], []
    sites = [(r1, lan_sub, r1_gw), (r2, lan2_sub, r2_gw)]
    services = [w.create(f"{vpn}/vpnservices", "vpnservice", router_id=r["id"]) for r, _, _ in sites]
    locals_ = [w.create(f"{vpn}/endpoint-groups", "endpoint_group", type="subnet", endpoints=[s["id"]])
               for _, s, _ in sites]
    for i, j in ((0, 1), (1, 0)):
        peer = w.create(f"{vpn}/endpoint-groups", "endpoint_group", type="cidr", endpoints=[sites[j][1]["cidr"]])
        vpn_objs.append(peer)
        conns.append(w.create(f"{vpn}/ipsec-site-connections", "ipsec_site_connection", peer_address=sites[j][2],
                              peer_id=sites[j][2], psk="e2e-secret", vpnservice_id=services[i]["id"],
                              ikepolicy_id=ike["id"], ipsecpolicy_id=ipsec["id"],
                              local_ep_group_id=locals_[i]["id"], peer_ep_group_id=peer["id"]))
    until(lambda: all(w.api("GET", f"{vpn}/ipsec-site-connections/{c['id']}")["ipsec_site_connection"]["status"]
                      == "ACTIVE" for c in conns), 120, "both site connections ACTIVE")
    until(lambda: ping(vm1, vm3_ip), 60, "vm1 pings vm3 through the tunnel")
    w.step("VPN between two routers carries a ping")

    # delete everything, in dependency order, through the API
    for c in conns:
        w.api("DELETE", f"{vpn}/ipsec-site-connections/{c['id']}")
    for obj in vpn_objs + locals_:
        w.api("DELETE", f"{vpn}/endpoint-groups/{obj['id']}")
    for s in services:
        w.api("DELETE", f"{vpn}/vpnservices/{s['id']}")
    w.api("DELETE", f"{vpn}/ikepolicies/{ike['id']}")
    w.api("DELETE", f"{vpn}/ipsecpolicies/{ipsec['id']}")
    for f in (fip1, lb_fip):
        w.api("DELETE", f"/v2.0/floatingips/{f['id']}")
    w.api("DELETE", f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=true")
    until(lambda: w.call("GET", f"/v2/lbaas/loadbalancers/{lb['id']}")[0] == 404, 60, "load balancer gone")
    w.api("PUT", f"{fw}/firewall_groups/{group['id']}", {"firewall_group": {"ports": []}})
    until(lambda: w.api("GET", f"{fw}/firewall_groups/{group['id']}")["firewall_group"]["status"] == "INACTIVE", 60,
          "firewall group detached")
    w.api("DELETE", f"{fw}/firewall_groups/{group['id']}")
    for pol in (ing, egr):
        w.api("DELETE", f"{fw}/firewall_policies/{pol['id']}")
    for rule in (deny, anyrule, anyrule2):
        w.api("DELETE", f"{fw}/firewall_rules/{rule['id']}")
    for port, ns in ((vm1_port, vm1), (vm2_port, vm2), (vm3_port, vm3), (inet_port, inet)):
        w.cli("port", "unplug", port["id"], "--netns", ns)
        w.api("DELETE", f"/v2.0/ports/{port['id']}")
        sh("ip", "netns", "delete", ns)
    for r, sub in ((r1, lan_sub), (r2, lan2_sub)):
        w.api("PUT", f"/v2.0/routers/{r['id']}/remove_router_interface", {"subnet_id": sub["id"]})
        w.api("DELETE", f"/v2.0/routers/{r['id']}")
    for net in (lan, lan2, ext):
        until(lambda: not w.ports_in_use(net["id"]), 30, f"{net['name']}: ports left {w.ports_in_use(net['id'])}")
        w.api("DELETE", f"/v2.0/networks/{net['id']}")
    for g in (sg, icmp):
        w.api("DELETE", f"/v2.0/security-groups/{g['id']}")
    aio = f"{w.prefix}aio"
    until(lambda: w.ours() == {"namespaces": [aio], "processes": [], "ovs_ports": []}, 60,
          f"nothing but the dataplane namespace left: {w.ours()}")
    w.step("delete everything; host clean while running")

    assert "stopped" in w.cli("down")
    assert w.ours(running=False) == {"namespaces": [], "processes": [], "ovs_ports": []}
    w.step("down; host clean")
