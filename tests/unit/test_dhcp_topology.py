"""Topology side of DHCP: the scheduling fold, port readiness (provisioning blocks) in
``ports_v``, and the DHCP intent compiler (converges, no-op, incremental == scratch)."""

from __future__ import annotations

import random

import msgspec

from netledger.libs.events import codec
from netledger.libs.events.dhcp import DhcpNetwork, DhcpNetworkScheduled, DhcpNetworkUnscheduled
from netledger.libs.events.envelope import wrap
from netledger.libs.events.network import NetworkCreated
from netledger.libs.events.port import ExtraDhcpOpt, FixedIp, PortCreated
from netledger.libs.events.status import PortStatusReported
from netledger.libs.events.subnet import SubnetCreated, SubnetUpdated
from netledger.services.topology import store
from netledger.services.topology.compile_dhcp import compile_network
from netledger.services.topology.compile_l2 import diff
from netledger.services.topology.runner import Folder

T = "2026-01-01T00:00:00Z"


def projection(tmp_path):
    db = store.open_db(str(tmp_path / "p.db"))
    store.create_schema(db)
    return db, Folder(store.Projection(db), "events", None, "t"), Folder(store.Projection(db), "status", None, "t")


def fold(folder: Folder, *envs) -> None:
    start = folder.position
    folder.fold_batch([(start + i + 1, codec.encode(e)) for i, e in enumerate(envs)])


def status(db, port_id: str) -> str:
    row = db.execute("SELECT json_extract(body, '$.status') FROM ports_v WHERE id = ?", [port_id]).fetchone()
    return row[0]


def port(pid: str, owner: str = "compute:nova", host: str = "h1") -> PortCreated:
    return PortCreated(port_id=pid, network_id="n1", project_id="p", mac_address=f"fa:16:3e:00:00:{pid[-1]}0",
                       fixed_ips=(FixedIp(subnet_id="s1", ip_address=f"10.0.0.{ord(pid[-1])}"),),
                       device_owner=owner, binding_host_id=host, binding_vif_type="ovs",
                       extra_dhcp_opts=(ExtraDhcpOpt(opt_name="mtu", opt_value="1400", ip_version=4),))


def test_port_active_needs_l2_and_dhcp_blocks_when_an_agent_serves_the_network(tmp_path):
    db, events, reports = projection(tmp_path)
    fold(events, wrap(NetworkCreated(network_id="n1", project_id="p"), kind="network", aggregate_id="n1", time=T),
         wrap(SubnetCreated(subnet_id="s1", network_id="n1", project_id="p", cidr="10.0.0.0/24", ip_version=4),
              kind="subnet", aggregate_id="s1", time=T),
         wrap(port("p1"), kind="port", aggregate_id="p1", time=T),
         wrap(port("d1", owner="network:dhcp"), kind="port", aggregate_id="d1", time=T))
    l2 = [wrap(PortStatusReported(port_id=p, host="h1", status="ACTIVE"), kind="port", aggregate_id=p, time=T)
          for p in ("p1", "d1")]
    fold(reports, *l2)
    assert status(db, "p1") == "ACTIVE"            # no DHCP agent serves n1: no dhcp block (Neutron)
    fold(events, wrap(DhcpNetworkScheduled(network_id="n1", host="h1", agent_id="a", port_id="d1"), kind="dhcp",
                      aggregate_id="n1", time=T))
    assert status(db, "p1") == "DOWN" and status(db, "d1") == "ACTIVE"   # the DHCP port has no dhcp block
    fold(reports, wrap(PortStatusReported(port_id="p1", host="h1", status="ACTIVE", block="dhcp"), kind="port",
                       aggregate_id="p1", time=T))
    assert status(db, "p1") == "ACTIVE"
    fold(events, wrap(SubnetUpdated(subnet_id="s1", network_id="n1", enable_dhcp=False), kind="subnet",
                      aggregate_id="s1", time=T))
    fold(reports, wrap(PortStatusReported(port_id="p1", host="h1", status="DOWN", block="dhcp"), kind="port",
                       aggregate_id="p1", time=T))
    assert status(db, "p1") == "ACTIVE"            # DHCP disabled: the block no longer applies
    row = db.execute("SELECT body FROM ports_v WHERE id = 'p1'").fetchone()
    assert msgspec.json.decode(row[0])["extra_dhcp_opts"] == [{"opt_name": "mtu", "opt_value": "1400",
                                                             "ip_version": 4}]


def test_scheduling_fold_keeps_the_subject_sequence(tmp_path):
    db, events, _ = projection(tmp_path)
    fold(events, wrap(DhcpNetworkScheduled(network_id="n1", host="h1", agent_id="a", port_id="d1"), kind="dhcp",
                      aggregate_id="n1", time=T),
         wrap(DhcpNetworkUnscheduled(network_id="n1", host="h1"), kind="dhcp", aggregate_id="n1", time=T))
    assert [tuple(r) for r in db.execute("SELECT host, port_id, seq FROM dhcp_bindings")] == [("", "", 2)]


NET = {"id": "n1", "project_id": "p", "mtu": 1450, "admin_state_up": True}
SUB = {"id": "s1", "cidr": "10.0.0.0/24", "ip_version": 4, "gateway_ip": "10.0.0.1", "enable_dhcp": True,
       "dns_nameservers": [], "host_routes": [{"destination": "10.9.0.0/16", "nexthop": "10.0.0.9"}]}


def body(pid: str, i: int, owner: str = "", host: str = "h1", opts=()) -> dict:
    return {"id": pid, "mac_address": f"fa:16:3e:00:00:{i:02x}", "device_owner": owner, "device_id": f"vm{i}",
            "project_id": "p", "binding:host_id": host, "revision_number": i, "extra_dhcp_opts": list(opts),
            "fixed_ips": [{"subnet_id": "s1", "ip_address": f"10.0.0.{i}"}]}


def test_intent_only_on_the_bound_host_with_the_dhcp_port_bound_there():
    ports = [body("d", 2, "network:dhcp"), body("a", 10), body("b", 11, host="h2")]
    out = compile_network(NET, [SUB], ports, {"host": "h1", "port_id": "d"})
    (key,) = out
    intent = msgspec.json.decode(out[key], type=DhcpNetwork)
    assert key == "h1.net.n1" and intent.port.port_id == "d"
    assert [h.port_id for h in intent.hosts] == ["a", "b"] and intent.hosts[0].hostname == "host-10-0-0-10"
    assert compile_network(NET, [SUB], ports, {"host": "h2", "port_id": "d"}) == {}       # port not bound there
    assert compile_network(NET, [{**SUB, "enable_dhcp": False}], ports, {"host": "h1", "port_id": "d"}) == {}
    assert compile_network(NET, [SUB], ports, None) == {}


def test_compile_invariants_over_random_histories():
    rng = random.Random(3)
    for _ in range(40):
        published: dict = {}
        ports = {"d": body("d", 2, "network:dhcp")}
        subnets, binding = [SUB], {"host": "h1", "port_id": "d"}
        for step in range(25):
            roll = rng.random()
            if roll < 0.5:
                i = rng.randrange(10, 20)
                ports[f"p{i}"] = body(f"p{i}", i, opts=[{"opt_name": "mtu", "opt_value": str(1300 + step),
                                                         "ip_version": 4}] if rng.random() < 0.3 else [])
            elif roll < 0.8 and len(ports) > 1:
                ports.pop(rng.choice(sorted(set(ports) - {"d"})))
            elif roll < 0.9:
                subnets = [{**SUB, "dns_nameservers": [f"10.0.0.{step}"]}]
            else:
                binding = {"host": rng.choice(["h1", ""]), "port_id": "d"}
            desired = compile_network(NET, subnets, list(ports.values()), binding)
            puts, deletes = diff(published, desired)
            published = {**{k: v for k, v in published.items() if k not in deletes}, **puts}
            assert published == desired and diff(published, desired) == ({}, [])
        scratch = compile_network(NET, subnets, list(reversed(list(ports.values()))), binding)
        assert diff({}, scratch)[0] == published
