"""DHCP figures: what one port change costs as the network grows.

Every port change recompiles the network's DHCP intent and re-renders dnsmasq's files
whole (level-triggered, no diffs to trust), so the cost of one change is O(ports in
the network). This measures, for networks of N ports:

- compile (rows -> intent) + encode, render hosts/opts/metadata, plan: per change;
- ``dnsmasq --test`` on the rendered files (the validation before every install);
- listing ``ports_v`` (readiness computed per row with the provisioning-block
  subqueries), with and without the network scheduled on a DHCP agent.

``python -m netledger.bench.bench_dhcp [N ...]``; figures are printed, never asserted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

import msgspec
import structlog

from netledger.libs.events.dhcp import DhcpNetwork
from netledger.services.dhcp import plan as P
from netledger.services.dhcp.config import DhcpAgentConfig
from netledger.services.dhcp.render_dnsmasq import render_hosts, render_opts, validation_conf
from netledger.services.topology import store
from netledger.services.topology.compile_dhcp import compile_network

log = structlog.get_logger("bench.dhcp")
NET = {"id": "n1", "project_id": "p", "mtu": 1450, "admin_state_up": True}
SUB = {"id": "s1", "cidr": "10.0.0.0/16", "ip_version": 4, "gateway_ip": "10.0.0.1", "enable_dhcp": True,
       "dns_nameservers": ["10.0.0.53"], "host_routes": []}


def port(i: int, owner: str = "compute:nova") -> dict:
    return {"id": f"p{i:08d}-0000-4000-8000-000000000000",
            "mac_address": f"fa:16:3e:00:{i // 256 % 256:02x}:{i % 256:02x}",
            "device_owner": owner, "device_id": f"vm{i}", "project_id": "p", "binding:host_id": "h1",
            "revision_number": 1, "extra_dhcp_opts": [],
            "fixed_ips": [{"subnet_id": "s1", "ip_address": f"10.0.{i // 250}.{i % 250 + 2}"}]}


def per_change(n: int, rounds: int = 5) -> dict:
    ports = [port(0, "network:dhcp")] + [port(i) for i in range(1, n + 1)]
    binding = {"host": "h1", "port_id": ports[0]["id"]}
    lay = DhcpAgentConfig(host="h1", state_dir="/bench").layout("n1", ports[0]["id"])
    start = time.perf_counter()
    for _ in range(rounds):
        (value,) = compile_network(NET, [SUB], ports, binding).values()
    t_compile = (time.perf_counter() - start) / rounds
    net = msgspec.json.decode(value, type=DhcpNetwork)
    start = time.perf_counter()
    for _ in range(rounds):
        files = P.desired_files(net, lay)
    t_render = (time.perf_counter() - start) / rounds
    observed = P.Observed(files=files)
    start = time.perf_counter()
    for _ in range(rounds):
        P.plan_network(net, lay, observed)
    t_plan = (time.perf_counter() - start) / rounds
    return {"ports": n, "compile_ms": t_compile * 1e3, "render_ms": t_render * 1e3, "plan_ms": t_plan * 1e3,
            "hosts_bytes": len(render_hosts(net)), "opts_bytes": len(render_opts(net)), "net": net}


def validation_ms(net: DhcpNetwork) -> float | None:
    if not shutil.which("dnsmasq"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "host.check")
        with open(conf, "w") as fh:
            fh.write(validation_conf("/x/host", render_hosts(net)) + validation_conf("/x/opts", render_opts(net)))
        start = time.perf_counter()
        subprocess.run(["dnsmasq", "--test", f"--conf-file={conf}"], capture_output=True, check=True)
        return (time.perf_counter() - start) * 1e3


def list_ports_ms(n: int) -> tuple[float, float]:
    """SELECT of every ports_v body, without then with a DHCP agent serving the network."""
    with tempfile.TemporaryDirectory() as tmp:
        db = store.open_db(os.path.join(tmp, "p.db"))
        store.create_schema(db)
        conn = db.conn
        conn.execute("INSERT INTO networks (id, project_id, body, seq, tree_seq) VALUES ('n1', 'p', '{}', 1, 1)")
        conn.execute("INSERT INTO subnets (id, project_id, network_id, cidr, body, seq) VALUES "
                     "('s1', 'p', 'n1', '10.0.0.0/16', ?, 1)", [msgspec.json.encode(SUB).decode()])
        rows = [(p["id"], "p", "n1", p["device_id"], "h1", p["mac_address"], msgspec.json.encode(p).decode(), 1)
                for p in (port(i) for i in range(1, n + 1))]
        conn.executemany("INSERT INTO ports VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.executemany("INSERT INTO port_status VALUES (?, 'l2', 'h1', 'ACTIVE', 1, '', 1)", [(r[0],) for r in rows])
        figures = []
        for scheduled in (False, True):
            if scheduled:
                conn.execute("INSERT INTO dhcp_bindings VALUES ('n1', 'h1', 'a', 'd', '', 1)")
            start = time.perf_counter()
            conn.execute("SELECT body FROM ports_v").fetchall()
            figures.append((time.perf_counter() - start) * 1e3)
        return figures[0], figures[1]


def main(sizes: list[int] | None = None) -> None:
    for n in sizes or [100, 1000, 4000]:
        fig = per_change(n)
        check = validation_ms(fig["net"])
        plain, served = list_ports_ms(n)
        sys.stdout.write(
            f"ports={n:<5d} per change: compile {fig['compile_ms']:7.2f} ms  render {fig['render_ms']:7.2f} ms  "
            f"plan {fig['plan_ms']:7.2f} ms  dnsmasq --test {check if check is None else round(check, 1)} ms  "
            f"(hosts {fig['hosts_bytes'] // 1024} KiB)  list ports_v {plain:6.1f} ms / {served:6.1f} ms served\n")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or None)
