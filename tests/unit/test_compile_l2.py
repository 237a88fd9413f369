"""L2 intent compilation: converges, re-applying is a no-op, incremental == from scratch."""

from __future__ import annotations

import random

import msgspec

from netledger.libs.events.intents import L2Network, L2Port
from netledger.services.topology.compile_l2 import compile_network, diff

NET = {"id": "n1", "provider:network_type": "vxlan", "provider:segmentation_id": 42,
       "provider:physical_network": None, "mtu": 1450, "admin_state_up": True}
IPS = {"h1": "10.250.0.1", "h2": "10.250.0.2", "h3": "10.250.0.3"}


def port(pid: str, host: str, vif: str = "ovs") -> dict:
    return {"id": pid, "mac_address": "fa:16:3e:00:00:01", "fixed_ips": [{"ip_address": "10.0.0.5"}],
            "binding:host_id": host, "binding:vif_type": vif, "admin_state_up": True,
            "device_id": "vm", "device_owner": "compute:nova", "revision_number": 3}


def apply(published: dict, puts: dict, deletes: list) -> dict:
    new = {k: v for k, v in published.items() if k not in deletes}
    new.update(puts)
    return new


def test_peers_are_the_other_hosts_with_ports():
    out = compile_network(NET, [port("a", "h1"), port("b", "h2"), port("c", "h2")], IPS)
    net_h1 = msgspec.json.decode(out["h1.net.n1"], type=L2Network)
    net_h2 = msgspec.json.decode(out["h2.net.n1"], type=L2Network)
    assert net_h1.peers == ("10.250.0.2",) and net_h2.peers == ("10.250.0.1",)
    assert msgspec.json.decode(out["h2.port.c"], type=L2Port).segmentation_id == 42
    assert "h3.net.n1" not in out


def test_unbound_and_failed_ports_get_no_intent():
    out = compile_network(NET, [port("a", "h1", "unbound"), port("b", "h2", "binding_failed"),
                                port("c", "", "ovs")], IPS)
    assert out == {}


def test_deleted_network_compiles_to_nothing():
    assert compile_network(None, [port("a", "h1")], IPS) == {}


def test_invariants_over_random_histories():
    rng = random.Random(7)
    for _ in range(50):
        published: dict = {}
        ports: dict[str, dict] = {}
        for _step in range(30):
            pid = f"p{rng.randrange(8)}"
            if rng.random() < 0.3:
                ports.pop(pid, None)
            else:
                ports[pid] = port(pid, rng.choice(["h1", "h2", "h3", ""]), rng.choice(["ovs", "unbound"]))
            desired = compile_network(NET, list(ports.values()), IPS)
            puts, deletes = diff(published, desired)
            published = apply(published, puts, deletes)
            assert published == desired                      # converges
            assert diff(published, desired) == ({}, [])      # re-apply is a no-op
        scratch = compile_network(NET, list(ports.values()), IPS)
        assert diff({}, scratch)[0] == published             # incremental == from scratch
