"""The incremental SG index gives exactly what the full compile gives (pure)."""

from __future__ import annotations

import random

from netledger.libs.events.subjects import host_token
from netledger.services.topology.compile_sg import compile_sgs, group_intent
from netledger.services.topology.sg_index import SgIndex, compile_hosts, hosts_using

GROUPS = {
    "g-web": {"id": "g-web", "security_group_rules": [
        {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 80, "port_range_max": 80,
         "remote_group_id": "g-lb"}]},
    "g-lb": {"id": "g-lb", "security_group_rules": [
        {"direction": "egress", "ethertype": "IPv4"},
        {"direction": "ingress", "ethertype": "IPv4", "remote_group_id": "g-lb"}]},
    "g-plain": {"id": "g-plain", "security_group_rules": [
        {"direction": "ingress", "ethertype": "IPv4", "remote_ip_prefix": "10.0.0.0/8"}]},
}
INTENTS = {sg: group_intent(g) for sg, g in GROUPS.items()}


def random_port(rng: random.Random, pid: str) -> dict:
    port = {"id": pid, "security_groups": rng.sample(sorted(GROUPS), rng.randint(0, 2)),
            "fixed_ips": [{"subnet_id": "s", "ip_address": f"10.0.0.{rng.randint(1, 12)}"}],
            "port_security_enabled": rng.random() > 0.2,
            "binding:host_id": rng.choice(["", "h1", "h2", "h3"]), "binding:vif_type": "ovs"}
    if rng.random() < 0.3:
        port["allowed_address_pairs"] = [{"ip_address": f"10.9.0.{rng.randint(1, 3)}"}]
    if rng.random() < 0.1:
        port["binding:vif_type"] = "binding_failed"
    return port


def full(ports: dict[str, dict]) -> dict[str, bytes]:
    return compile_sgs([p for p in ports.values() if p.get("security_groups")], GROUPS)


def test_incremental_equals_full_compile_after_every_step():
    rng = random.Random(7)
    ports: dict[str, dict] = {}
    index, published = SgIndex(), {}
    for step in range(600):
        pid = f"p{rng.randint(0, 25)}"
        if pid in ports and rng.random() < 0.25:
            del ports[pid]
            hosts, groups = index.update(pid, None)
        else:
            ports[pid] = random_port(rng, pid)
            hosts, groups = index.update(pid, ports[pid])
        affected = hosts | hosts_using(index, groups, INTENTS)
        tokens = {host_token(h) for h in affected}
        published = {k: v for k, v in published.items() if k.split(".", 1)[0] not in tokens}
        published.update(compile_hosts(index, affected, INTENTS))
        assert published == full(ports), f"step {step}"


def test_replayed_from_scratch_equals_incremental():
    rng = random.Random(11)
    ports = {f"p{i}": random_port(rng, f"p{i}") for i in range(40)}
    incremental = SgIndex()
    for i in range(200):
        pid = f"p{rng.randint(0, 39)}"
        ports[pid] = random_port(rng, pid)
        incremental.update(pid, ports[pid])
    scratch = SgIndex()
    for pid, port in ports.items():
        scratch.update(pid, port)
    for pid in ports:
        incremental.update(pid, ports[pid])       # re-applying the same state changes nothing
    assert incremental.host_groups == scratch.host_groups and incremental.group_addrs == scratch.group_addrs
    hosts = scratch.hosts()
    assert compile_hosts(incremental, hosts, INTENTS) == compile_hosts(scratch, hosts, INTENTS) == full(ports)


def test_unchanged_port_reports_nothing():
    index = SgIndex()
    port = {"id": "p", "security_groups": ["g-lb"], "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.1"}],
            "binding:host_id": "h1", "binding:vif_type": "ovs"}
    assert index.update("p", port) == ({"h1"}, {"g-lb"})
    assert index.update("p", dict(port, name="renamed")) == (set(), set())
