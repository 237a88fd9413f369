"""Security groups end to end: API -> topology -> KV -> l2-agent processes -> packets.

Everything goes through the real API (no KV writes): a real stack (nats-server,
topology, API as subprocesses), two simulated hosts with an ``l2-agent`` process each,
a network and subnet, ports created with ``binding:host_id`` and plugged like os-vif
does (veth + instance namespace with the port's MAC and IP).

A (host 1) and B (host 2) are in the project's default group, C (host 2) in group
"other" (egress only). Every "blocked" check follows a positive control in the same
state (a packet that does get through, with the same tool), so a dead network or a
dead server cannot pass for a filter.
Safety: namespaces are ``<cluster prefix>-...`` (Cluster deletes them even on failure);
servers and agents are stopped by pid.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from netledger.deploy.hosts import Cluster, ns_delete
from netledger.deploy.ovs import ovs_available
from netledger.services.l2.driver_plug import PlugSpec, plug, unplug
from tests.support import destroy_stack, start_stack

pytestmark = pytest.mark.dataplane


def sh(*cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {proc.returncode}: {proc.stdout}{proc.stderr}")
    return proc


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def eventually(predicate, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def ping(ns: str, ip: str) -> bool:
    return sh("ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", ip, check=False).returncode == 0


def http(ns: str, ip: str, port: int) -> bool:
    r = sh("ip", "netns", "exec", ns, "curl", "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}",
           f"http://{ip}:{port}/", check=False)
    return r.stdout == "200"


def agent_args(stack, h) -> list[str]:
    return ["l2-agent", "--host", h.name, "--backend", "ovs", "--ovsdb", h.ovsdb, "--tunnel-ip", h.tunnel_ip,
            "--resync-interval", "2", "--nats", stack.nats_url, "--prefix", stack.prefix]


class Lab:
    """The stack, the cluster, instances and servers of one test (all stopped by pid)."""

    def __init__(self, stack, cluster: Cluster) -> None:
        self.stack, self.cluster, self.api = stack, cluster, stack.api
        self.instances: list[tuple[object, str, str]] = []
        self.servers: list[subprocess.Popen] = []

    def port(self, i: int, net: dict, sub: dict, name: str, **attrs) -> tuple[dict, str]:
        """A port bound to host i, plugged into a new instance namespace with its address."""
        h = self.cluster.hosts[i]
        port = self.api.create("port", network_id=net["id"], name=name, device_owner="compute:nova",
                               device_id=f"vm-{name}", **{"binding:host_id": h.name}, **attrs)
        ns = f"{self.cluster.prefix}-vm-{port['id'][:8]}"
        plug(PlugSpec(port_id=port["id"], netns=ns, mac=port["mac_address"], mtu=net["mtu"], host_netns=h.netns,
                      ovsdb=h.ovsdb))
        self.instances.append((h, port["id"], ns))
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        plen = sub["cidr"].split("/")[1]
        sh("ip", "-n", ns, "addr", "add", f"{port['fixed_ips'][0]['ip_address']}/{plen}", "dev", "eth0")
        return port, ns

    def serve(self, ns: str, ip: str, port: int) -> None:
        self.servers.append(subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "http.server", str(port), "--bind", ip],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait(lambda: http(ns, ip, port), 30, f"server {ip}:{port} answering inside its own namespace")

    def close(self) -> None:
        for s in self.servers:
            s.terminate()
            try:
                s.wait(5)
            except subprocess.TimeoutExpired:
                s.kill()
        for h, port_id, ns in self.instances:
            try:
                unplug(port_id, ns, host_netns=h.netns, ovsdb=h.ovsdb)
            except Exception:  # noqa: BLE001 - teardown goes on; the Cluster deletes namespaces anyway
                pass
            ns_delete(ns)

    def put_port(self, port_id: str, **attrs) -> dict:
        status, body = self.api.put(f"/v2.0/ports/{port_id}", {"port": attrs})
        assert status == 200, (status, body)
        return body["port"]

    def plans(self, h) -> list[str]:
        """The non-empty plans an agent has logged so far."""
        path = os.path.join(self.stack.workdir, f"l2-{h.name}.log")
        return [line for line in open(path, errors="replace") if '"plan"' in line]

    def logs(self) -> str:
        out = []
        for name in sorted(self.stack.procs):
            path = os.path.join(self.stack.workdir, f"{name}.log")
            if os.path.exists(path):
                out.append(f"--- {name}\n" + open(path, errors="replace").read()[-3000:])
        return "\n".join(out)


def create(api, path: str, kind: str, **attrs) -> dict:
    status, body = api.post(f"/v2.0/{path}", {kind: attrs})
    assert status == 201, (status, body)
    return body[kind]


@pytest.fixture
def lab(nats_server):
    if os.geteuid() != 0 or not ovs_available():
        pytest.skip("needs root and OVS")
    with Cluster(count=2, physnet=False) as cluster:
        stack = start_stack(nats_server)
        lab = Lab(stack, cluster)
        try:
            for h in cluster.hosts:
                stack.spawn(f"l2-{h.name}", agent_args(stack, h))
            yield lab
        finally:
            lab.close()
            destroy_stack(stack)


def test_security_groups_through_the_api(lab):
    api = lab.api
    wait(lambda: sum(a["alive"] for a in api.get("/v2.0/agents")[1]["agents"]) == 2, 90, "both l2 agents alive")
    net = api.create("network", name="sg-e2e")
    sub = api.create("subnet", network_id=net["id"], cidr="10.61.0.0/24", ip_version=4, enable_dhcp=False)
    other = create(api, "security-groups", "security_group", name="other")
    pa, a = lab.port(0, net, sub, "a")
    pb, b = lab.port(1, net, sub, "b")
    pc, c = lab.port(1, net, sub, "c", security_groups=[other["id"]])
    ip_a, ip_b, ip_c = (p["fixed_ips"][0]["ip_address"] for p in (pa, pb, pc))
    default = pa["security_groups"]
    assert default == pb["security_groups"] and len(default) == 1 and default != [other["id"]]

    def all_active():
        _, body = api.get(f"/v2.0/ports?network_id={net['id']}")
        return {p["id"]: p["status"] for p in body["ports"]} == {p["id"]: "ACTIVE" for p in (pa, pb, pc)}

    try:
        wait(all_active, 90, "ports ACTIVE")
    except AssertionError:
        raise AssertionError(lab.logs()) from None

    # default group: members talk (both directions, across hosts); the other group is blocked
    assert eventually(lambda: ping(b, ip_a)), "same default group: B -> A"
    assert ping(a, ip_b), "same default group: A -> B"
    assert not ping(c, ip_a), "C (group other) -> A must be blocked"
    assert ping(b, ip_a), "control after the blocked check: B -> A still passes"
    assert not ping(a, ip_c), "A -> C must be blocked (group other admits no ingress)"

    # servers: A:8080 (same-group control), C:8080 and C:8081 (checked from inside C first)
    lab.serve(a, ip_a, 8080)
    lab.serve(c, ip_c, 8080)
    lab.serve(c, ip_c, 8081)
    assert eventually(lambda: http(b, ip_a, 8080)), "control: curl B -> A:8080 (same group)"
    assert not http(a, ip_c, 8080), "C:8080 closed before the rule"

    # a rule on group other: tcp/8080 from 0.0.0.0/0
    rule = create(api, "security-group-rules", "security_group_rule", security_group_id=other["id"],
                  direction="ingress", ethertype="IPv4", protocol="tcp", port_range_min=8080,
                  port_range_max=8080, remote_ip_prefix="0.0.0.0/0")
    assert eventually(lambda: http(a, ip_c, 8080)), "tcp/8080 opened: A -> C:8080"
    assert http(b, ip_c, 8080), "tcp/8080 opened: B -> C:8080 (same host)"
    assert not http(a, ip_c, 8081), "C:8081 stays closed"
    assert not ping(a, ip_c), "icmp to C stays closed"
    assert http(a, ip_c, 8080), "control after the blocked checks: A -> C:8080 still open"
    # converged means quiet: periodic full reconciles (every 2 s) plan nothing, i.e. the
    # flows the rule renders are exactly what OVS reports back (0.0.0.0/0 is wildcarded)
    plans = [lab.plans(h) for h in lab.cluster.hosts]
    assert all(plans), "each agent logged the plans that wired its ports"
    time.sleep(6)
    assert [lab.plans(h) for h in lab.cluster.hosts] == plans, "agents keep rewriting flows while nothing changes"

    # deleting the rule closes 8080 again
    status, _ = api.delete(f"/v2.0/security-group-rules/{rule['id']}")
    assert status == 204
    assert eventually(lambda: not http(a, ip_c, 8080)), "rule deleted: A -> C:8080 closed"
    assert http(b, ip_a, 8080) and http(c, ip_c, 8080), "control: same-group curl works, C:8080 still serves"
    assert not http(a, ip_c, 8080), "rule deleted: still closed after the control"

    # groups removed (port security still on): C admits nothing
    lab.put_port(pc["id"], security_groups=[])
    assert eventually(lambda: not http(a, ip_c, 8080) and not ping(a, ip_c), 30)
    assert ping(b, ip_a), "control: B -> A"
    assert not ping(a, ip_c) and not http(a, ip_c, 8081), "C without groups but with port security: closed"

    # port security off: everything reaches C, from A and B, on any port
    assert lab.put_port(pc["id"], port_security_enabled=False)["port_security_enabled"] is False
    assert eventually(lambda: ping(a, ip_c)), "port security off: A -> C ping"
    assert http(a, ip_c, 8080) and http(a, ip_c, 8081), "port security off: A -> C tcp 8080, 8081"
    assert ping(b, ip_c) and http(b, ip_c, 8081), "port security off: B -> C (same host)"
    # A's own filter still applies to traffic towards A: C is not in A's group
    assert ping(b, ip_a), "control: B -> A"
    assert not ping(c, ip_a), "A still filters C (C is in no group A admits)"
