"""Crash the whole chain while ports are being created and bound: kill -9 the L2 workers,
the topology service and the API at random moments. Afterwards every bound port is
ACTIVE, and a freshly started worker on each host finds nothing to do (its first full
reconcile makes zero dataplane writes): the dataplane equals what a fresh worker plans."""

from __future__ import annotations

import json
import os
import random
import threading
import time

import pytest

from netledger.deploy.hosts import Cluster
from netledger.deploy.ovs import ovs_available
from tests.support import Client, destroy_stack, start_stack

pytestmark = [pytest.mark.dataplane, pytest.mark.reliability, pytest.mark.slow]
PORTS = int(os.environ.get("CHAOS_DP_PORTS", "60"))


def agent_args(stack, h) -> list[str]:
    return ["l2-agent", "--host", h.name, "--backend", "ovs", "--ovsdb", h.ovsdb, "--tunnel-ip", h.tunnel_ip,
            "--resync-interval", "1", "--nats", stack.nats_url, "--prefix", stack.prefix]


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def sync_writes(log_path: str) -> list[int]:
    """The write counts of every 'initial sync done' line in an agent's log."""
    out = []
    for line in open(log_path, errors="replace"):
        if '"initial sync done"' in line:
            out.append(json.loads(line)["writes"])
    return out


@pytest.fixture
def chain(nats_server):
    if os.geteuid() != 0 or not ovs_available():
        pytest.skip("needs root and OVS")
    with Cluster(count=2, physnet=False, vswitchd_args=("--enable-dummy",)) as cluster:
        stack = start_stack(nats_server)
        try:
            for h in cluster.hosts:
                stack.spawn(f"l2-{h.name}", agent_args(stack, h))
            yield stack, cluster
        finally:
            destroy_stack(stack)


def test_dataplane_converges_after_kills(chain):
    stack, cluster = chain
    api = stack.api
    wait(lambda: len([a for a in api.get("/v2.0/agents")[1]["agents"] if a["alive"]]) == 2, 60, "agents alive")
    net = api.create("network", name="chaos-dp")
    api.create("subnet", network_id=net["id"], cidr="10.90.0.0/22", ip_version=4, enable_dhcp=False)
    rng = random.Random(5)
    kills: list[str] = []
    stop = threading.Event()

    def chaos():
        victims = [f"l2-{h.name}" for h in cluster.hosts] + ["topology", "api0"]
        while not stop.wait(rng.uniform(0.5, 1.5)):
            victim = rng.choice(victims)
            kills.append(victim)
            stack.stop(victim, sig="kill")
            time.sleep(rng.uniform(0.1, 0.6))
            if victim.startswith("l2-"):
                host = next(h for h in cluster.hosts if f"l2-{h.name}" == victim)
                stack.spawn(victim, agent_args(stack, host))
            elif victim == "api0":
                stack.spawn("api0", ["api", "--port", stack.api_urls[0].rsplit(":", 1)[1]])
            else:
                stack.spawn("topology", ["topology"])

    thread = threading.Thread(target=chaos)
    thread.start()
    created: dict[str, str] = {}
    try:
        deadline, i = time.monotonic() + 180, 0
        # Keep binding ports until enough exist *and* the chaos has landed a few kills.
        while (len(created) < PORTS or len(kills) < 4) and time.monotonic() < deadline:
            i += 1
            host = cluster.hosts[i % 2]
            try:
                status, body = api.post("/v2.0/ports", {"port": {"network_id": net["id"], "binding:host_id": host.name,
                                                                 "device_owner": "compute:nova"}})
            except OSError:
                time.sleep(0.2)
                continue
            if status == 201:
                created[body["port"]["id"]] = host.name
    finally:
        stop.set()
        thread.join()
    assert len(created) >= PORTS // 2 and len(kills) >= 3, (len(created), kills)
    # Instances appear on the hosts (what Nova + os-vif do), then everything must converge.
    for h in cluster.hosts:
        ids = [pid for pid, host in created.items() if host == h.name]
        plug_ports(h, ids)
    wait(lambda: api.get("/v2.0/agents")[0] == 200, 60, "API back")

    def all_active():
        _, body = api.get(f"/v2.0/ports?network_id={net['id']}&fields=id&fields=status&fields=binding:vif_type")
        ports = {p["id"]: p for p in body["ports"]}
        rebind = [pid for pid in created if ports.get(pid, {}).get("binding:vif_type") == "binding_failed"]
        for pid in rebind:   # bound while its agent was down: bind again, as Nova would
            api.put(f"/v2.0/ports/{pid}", {"port": {"binding:host_id": ""}})
            api.put(f"/v2.0/ports/{pid}", {"port": {"binding:host_id": created[pid]}})
        return all(ports.get(pid, {}).get("status") == "ACTIVE" for pid in created)

    wait(all_active, 120, "every bound port ACTIVE")
    # A fresh worker on each host plans nothing: zero dataplane writes at its first sync.
    for h in cluster.hosts:
        name = f"l2-{h.name}"
        stack.stop(name)
        stack.spawn(name, agent_args(stack, h))
        log = os.path.join(stack.workdir, f"{name}.log")
        counts = wait(lambda: sync_writes(log)[-1:] if len(sync_writes(log)) >= 2 + kills.count(name) else None,
                      60, f"{name} resync")
        assert counts == [0], (name, sync_writes(log))
    print(f"dataplane chaos: {len(created)} ports bound, kills: {kills}")


def plug_ports(host, port_ids: list[str]) -> None:
    """Dummy OVS ports carrying the ports' iface-ids (fast; no kernel devices)."""
    from netledger.services.l2.driver_plug import tap_name

    args: list[str] = []
    for pid in port_ids:
        tap = tap_name(pid)
        args += ["--", "--may-exist", "add-port", "br-int", tap, "--", "set", "Interface", tap, "type=dummy",
                 f"external_ids:iface-id={pid}", "external_ids:iface-status=active"]
    if args:
        host.ovs.vsctl(*args, timeout=120)
