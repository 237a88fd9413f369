"""Security group benchmark (prints, no asserts): rule change -> enforced, end to end.

Real stack (bench.harness: nats-server with fsync, topology, API as subprocesses), 4
simulated hosts with private OVS (``vswitchd --enable-dummy``) and one real ``l2-agent``
process each (default --resync-interval). Everything is created through the API:
a network, a /22 subnet, group "bench" (egress-only start rules), 100 ports in
"bench" bound round-robin to the 4 hosts (25 each) and plugged as OVS dummy ports
carrying their iface-id (no kernel devices: the userspace datapath is slow to open
100 veths on this VM). Plus two real instances (veth + namespace, ``driver_plug.plug``)
on hosts 1 and 2: a server S in "bench" (an HTTP server on every port used below) and
a client K in the project's default group; S is the 101st port of "bench".

Per round k (a fresh TCP port P = 9000 + k each round; nothing else changes):
  add:    POST /v2.0/security-group-rules {bench, ingress, tcp, P-P, 0.0.0.0/0}
          - api:    the POST's round trip (it answers once its projection has the rule)
          - flows:  until every host's br-int (``ovs-ofctl dump-flows ... table=82``, each
                    host polled in its own thread) holds one ``tp_dst=P`` rule flow for
                    each of its "bench" ports (max over hosts; per-host times too)
          - packet: until an HTTP GET from K to S:P succeeds (curl retried in a loop inside
                    K, --connect-timeout 0.2 s, so the figure is up to ~0.25 s late)
  delete: DELETE the rule; flows: until no host has a ``tp_dst=P`` flow left.
All clocks are time.monotonic() of this process (the curl loop's exit is seen by a
thread blocked in wait()). Polling costs CPU on the same 2 vCPUs the agents use.
Run: sudo .venv/bin/python -m bench.bench_sg   (NL_BENCH_SG_PORTS, NL_BENCH_SG_ROUNDS)
Safety: namespaces ``<cluster prefix>-...`` only (the Cluster deletes them even on
failure); agents, servers and probes are stopped by pid.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from netledger.bench.harness import stack
from netledger.deploy.hosts import Cluster, SimHost, ns_delete
from netledger.services.l2.driver_plug import PlugSpec, plug, tap_name, unplug

HOSTS = 4
PORTS = int(os.environ.get("NL_BENCH_SG_PORTS", "100"))
ROUNDS = int(os.environ.get("NL_BENCH_SG_ROUNDS", "5"))
BASE_PORT = 9000
SERVER = r"""
import http.server, socketserver, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
ip, ports = sys.argv[1], [int(p) for p in sys.argv[2:]]
servers = [http.server.ThreadingHTTPServer((ip, p), H) for p in ports]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
"""


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def sh(*cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} -> {proc.returncode}: {proc.stdout}{proc.stderr}")
    return proc


class Api:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body=None, ok=(200, 201, 204)):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                raw = resp.read()
                status, out = resp.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as exc:
            status, out = exc.code, exc.read().decode(errors="replace")
        if status not in ok:
            raise RuntimeError(f"{method} {path} -> {status}: {out}")
        return out


def rule_flows(h: SimHost, port: int) -> int:
    """How many table-82 rule flows on this host's br-int match tcp destination ``port``."""
    out = sh("ovs-ofctl", "dump-flows", f"unix:{h.ovs.rundir}/br-int.mgmt", "table=82", check=False).stdout
    return sum(1 for line in out.splitlines() if f"tp_dst={port}," in line or f"tp_dst={port} " in line)


def poll_hosts(hosts: list[SimHost], port: int, want: dict[str, int], t0: float, timeout: float = 300):
    """Per host: seconds from t0 until its flow count for ``port`` equals want[host]."""
    done: dict[str, float] = {}

    def one(h: SimHost) -> None:
        while time.monotonic() - t0 < timeout:
            if rule_flows(h, port) == want[h.name]:
                done[h.name] = time.monotonic() - t0
                return
            time.sleep(0.02)

    threads = [threading.Thread(target=one, args=(h,)) for h in hosts]
    for t in threads:
        t.start()
    return threads, done


def agent_cmd(nats_url: str, h: SimHost) -> list[str]:
    # the subcommand's own --nats default would win over a top-level one: pass it here
    return [sys.executable, "-m", "netledger.cli", "l2-agent", "--nats", nats_url, "--host", h.name,
            "--backend", "ovs", "--ovsdb", h.ovsdb, "--tunnel-ip", h.tunnel_ip]


def wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out: {what}")
        time.sleep(0.25)


def dummy_plug(h: SimHost, ports: list[dict]) -> None:
    args: list[str] = []
    for p in ports:
        tap = tap_name(p["id"])
        args += ["--", "--may-exist", "add-port", "br-int", tap, "--", "set", "Interface", tap, "type=dummy",
                 f"external_ids:iface-id={p['id']}", f"external_ids:attached-mac={p['mac_address']}",
                 "external_ids:iface-status=active"]
    if args:
        h.ovs.vsctl(*args, timeout=240)


class Bench:
    def __init__(self, api: Api, cluster: Cluster, nats_url: str, work: str) -> None:
        self.api, self.cluster, self.nats_url, self.work = api, cluster, nats_url, work
        self.procs: list[subprocess.Popen] = []
        self.instances: list[tuple[SimHost, str, str]] = []
        self.per_host: dict[str, int] = {}

    def setup(self) -> None:
        hosts = self.cluster.hosts
        for h in hosts:
            log = open(os.path.join(self.work, f"l2-{h.name}.log"), "ab")
            self.procs.append(subprocess.Popen(agent_cmd(self.nats_url, h), stdout=log, stderr=log,
                                               start_new_session=True))
        wait(lambda: sum(a["alive"] for a in self.api.call("GET", "/v2.0/agents")["agents"]) == HOSTS, 120,
             "agents alive")
        self.net = self.api.call("POST", "/v2.0/networks", {"network": {"name": "bench-sg"}})["network"]
        self.sub = self.api.call("POST", "/v2.0/subnets", {"subnet": {
            "network_id": self.net["id"], "cidr": "10.70.0.0/22", "ip_version": 4, "enable_dhcp": False}})["subnet"]
        self.sg = self.api.call("POST", "/v2.0/security-groups", {"security_group": {"name": "bench"}})[
            "security_group"]
        t0 = time.monotonic()
        ports = []
        for chunk in range(0, PORTS, 25):
            items = [{"network_id": self.net["id"], "device_owner": "compute:nova", "device_id": f"bench-{i}",
                      "security_groups": [self.sg["id"]], "binding:host_id": hosts[i % HOSTS].name}
                     for i in range(chunk, min(PORTS, chunk + 25))]
            ports += self.api.call("POST", "/v2.0/ports", {"ports": items})["ports"]
        print(f"setup: {len(ports)} ports created via the API (bulk of 25) in {time.monotonic() - t0:.1f}s",
              flush=True)
        for h in hosts:
            mine = [p for p in ports if p["binding:host_id"] == h.name]
            dummy_plug(h, mine)
            self.per_host[h.name] = len(mine)
        self.server, self.server_ns = self.instance(0, [self.sg["id"]], "server")
        self.client, self.client_ns = self.instance(1, None, "client")
        self.per_host[hosts[0].name] += 1
        ids = {p["id"] for p in ports} | {self.server["id"], self.client["id"]}
        t0 = time.monotonic()
        wait(lambda: self._active(ids), 600, "every port ACTIVE")
        print(f"setup: {len(ids)} ports ACTIVE {time.monotonic() - t0:.1f}s after the last plug", flush=True)
        self.server_ip = self.server["fixed_ips"][0]["ip_address"]
        ports_arg = [str(BASE_PORT + k) for k in range(ROUNDS)]
        self.procs.append(subprocess.Popen(["ip", "netns", "exec", self.server_ns, sys.executable, "-c", SERVER,
                                            self.server_ip, *ports_arg],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait(lambda: self.curl(self.server_ns, BASE_PORT, 1.0), 30, "server answers inside its namespace")
        if self.curl(self.client_ns, BASE_PORT, 2.0):
            raise RuntimeError("S is reachable from K before any rule: the measurement would be meaningless")

    def _active(self, ids: set[str]) -> bool:
        body = self.api.call("GET", f"/v2.0/ports?network_id={self.net['id']}&fields=id&fields=status")
        return sum(1 for p in body["ports"] if p["id"] in ids and p["status"] == "ACTIVE") == len(ids)

    def instance(self, i: int, groups, name: str) -> tuple[dict, str]:
        h = self.cluster.hosts[i]
        attrs = {"network_id": self.net["id"], "name": name, "device_owner": "compute:nova",
                 "device_id": f"bench-{name}", "binding:host_id": h.name}
        if groups is not None:
            attrs["security_groups"] = groups
        port = self.api.call("POST", "/v2.0/ports", {"port": attrs})["port"]
        ns = f"{self.cluster.prefix}-vm-{port['id'][:8]}"
        plug(PlugSpec(port_id=port["id"], netns=ns, mac=port["mac_address"], mtu=self.net["mtu"],
                      host_netns=h.netns, ovsdb=h.ovsdb))
        self.instances.append((h, port["id"], ns))
        sh("ip", "-n", ns, "addr", "add", f"{port['fixed_ips'][0]['ip_address']}/22", "dev", "eth0")
        return port, ns

    def curl(self, ns: str, port: int, timeout: float) -> bool:
        r = sh("ip", "netns", "exec", ns, "curl", "-s", "-o", "/dev/null", "-m", str(timeout),
               f"http://{self.server_ip}:{port}/", check=False)
        return r.returncode == 0

    def probe(self, port: int) -> subprocess.Popen:
        """curl from K to S:port, retried until it succeeds (runs inside K)."""
        loop = (f"until curl -s -o /dev/null --connect-timeout 0.2 -m 2 http://{self.server_ip}:{port}/; "
                "do :; done")
        return subprocess.Popen(["ip", "netns", "exec", self.client_ns, "timeout", "300", "sh", "-c", loop])

    def round(self, k: int) -> dict:
        port, hosts = BASE_PORT + k, self.cluster.hosts
        rule = {"security_group_id": self.sg["id"], "direction": "ingress", "ethertype": "IPv4",
                "protocol": "tcp", "port_range_min": port, "port_range_max": port, "remote_ip_prefix": "0.0.0.0/0"}
        probe = self.probe(port)
        time.sleep(0.3)                       # the probe's first attempts are under way (and fail)
        packet: dict[str, float] = {}
        t0 = time.monotonic()
        threads, done = poll_hosts(hosts, port, self.per_host, t0)

        def waiter() -> None:
            if probe.wait() == 0:
                packet["s"] = time.monotonic() - t0
        pw = threading.Thread(target=waiter)
        pw.start()
        created = self.api.call("POST", "/v2.0/security-group-rules", {"security_group_rule": rule})
        api_s = time.monotonic() - t0
        for t in threads + [pw]:
            t.join()
        out = {"api": api_s, "flows": max(done.values()) if len(done) == HOSTS else float("nan"),
               "hosts": [round(done.get(h.name, float("nan")), 2) for h in hosts],
               "packet": packet.get("s", float("nan"))}
        t1 = time.monotonic()
        threads, gone = poll_hosts(hosts, port, {h.name: 0 for h in hosts}, t1)
        self.api.call("DELETE", f"/v2.0/security-group-rules/{created['security_group_rule']['id']}")
        out["del_api"] = time.monotonic() - t1
        for t in threads:
            t.join()
        out["del_flows"] = max(gone.values()) if len(gone) == HOSTS else float("nan")
        return out

    def close(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        for h, port_id, ns in self.instances:
            try:
                unplug(port_id, ns, host_netns=h.netns, ovsdb=h.ovsdb)
            except Exception:  # noqa: BLE001 - teardown goes on; the Cluster deletes namespaces anyway
                pass
            ns_delete(ns)


def summary(name: str, values: list[float]) -> str:
    return f"{name} p50 {pct(values, 50) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


def main() -> None:
    with stack() as (apis, nats_url, work), \
            Cluster(count=HOSTS, physnet=False, vswitchd_args=("--enable-dummy",)) as cluster:
        b = Bench(Api(apis[0]), cluster, nats_url, work)
        try:
            b.setup()
            print(f"rule flows wanted per host (ports of group 'bench'): {list(b.per_host.values())}", flush=True)
            results = []
            for k in range(ROUNDS):
                r = b.round(k)
                results.append(r)
                print(f"round {k}: add tcp/{BASE_PORT + k}: api {r['api'] * 1000:.0f} ms, flows on all hosts "
                      f"{r['flows'] * 1000:.0f} ms (per host s {r['hosts']}), curl K->S ok "
                      f"{r['packet'] * 1000:.0f} ms; delete: api {r['del_api'] * 1000:.0f} ms, flows gone "
                      f"{r['del_flows'] * 1000:.0f} ms", flush=True)
            n = sum(b.per_host.values())
            print(f"rule add ({n} filtered ports, {HOSTS} hosts, {ROUNDS} rounds): "
                  f"{summary('API call', [r['api'] for r in results])}; "
                  f"{summary('flows on every host', [r['flows'] for r in results])}; "
                  f"{summary('real packet (curl)', [r['packet'] for r in results])}")
            print(f"rule delete: {summary('API call', [r['del_api'] for r in results])}; "
                  f"{summary('flows gone from every host', [r['del_flows'] for r in results])}", flush=True)
        finally:
            b.close()


if __name__ == "__main__":
    main()
