"""Pure parts around routers: scheduler, intent compiler, folds (incremental == replay),
and the router/floating IP deciders' Neutron errors."""

from __future__ import annotations

import pytest

from netledger.errors import BadRequest, Conflict, NotFound
from netledger.libs.events.envelope import wrap
from netledger.libs.events.floatingip import FloatingIpAssociated, FloatingIpCreated, FloatingIpDisassociated
from netledger.libs.events.router import (
    RouterCreated, RouterDeleted, RouterGatewaySet, RouterInterfaceAdded, RouterInterfaceRemoved, RouterScheduled,
    RouterUpdated, Route,
)
from netledger.services.api.deciders import floatingip as fip_decide
from netledger.services.api.deciders import router as decide
from netledger.services.l3 import scheduler as S
from netledger.services.topology import compile_l3
from netledger.services.topology.evolve import Delete, Put
from netledger.services.topology.evolve.floatingip import evolve_floatingip
from netledger.services.topology.evolve.router import evolve_router


# --- scheduler
def test_schedule_keeps_live_and_moves_dead_to_least_loaded():
    agents = [S.L3Agent(agent_id="a1", host="h1", alive=False), S.L3Agent(agent_id="a2", host="h2", alive=True),
              S.L3Agent(agent_id="a3", host="h3", alive=True)]
    routers = [S.Placement(router_id="r1", host="h1"), S.Placement(router_id="r2", host="h2"),
               S.Placement(router_id="r3", host="")]
    moves = S.schedule(routers, agents)
    assert [(m.router_id, m.host, m.previous_host) for m in moves] == [("r1", "h3", "h1"), ("r3", "h2", "")]
    after = [S.Placement(router_id=r.router_id, host=next((m.host for m in moves if m.router_id == r.router_id),
                                                          r.host)) for r in routers]
    assert S.schedule(after, agents) == [], "converges"


def test_schedule_without_live_workers_leaves_routers_alone():
    assert S.schedule([S.Placement(router_id="r1", host="h1")], [S.L3Agent(agent_id="a", host="h1", alive=False)]) == []


def test_rebind_only_ports_of_scheduled_routers():
    ports = [S.RouterPort(port_id="p2", router_host="h2", bound_host="h1"),
             S.RouterPort(port_id="p1", router_host="h2", bound_host="h2"),
             S.RouterPort(port_id="p3", router_host="", bound_host="")]
    assert [p.port_id for p in S.rebind(ports)] == ["p2"]


# --- compile
def _inputs(**kw):
    router = {"id": "r1", "revision_number": 3, "admin_state_up": True, "routes": [],
              "external_gateway_info": {"network_id": "ext", "enable_snat": True}}
    ports = {"qr": {"id": "qr", "network_id": "n1", "mac_address": "fa:16:3e:00:00:01",
                    "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.1"}]},
             "qg": {"id": "qg", "network_id": "ext", "mac_address": "fa:16:3e:00:00:02",
                    "fixed_ips": [{"subnet_id": "se", "ip_address": "203.0.113.9"}]}}
    subnets = {"s1": {"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.1"},
               "se": {"cidr": "203.0.113.0/24", "gateway_ip": "203.0.113.1"}}
    base = dict(router=router, host="h.1", ports=ports, subnets=subnets, mtus={"ext": 1500},
                interface_ports=("qr",), gw_port_id="qg",
                floatingips=({"id": "f1", "floating_ip_address": "203.0.113.50", "fixed_ip_address": "10.0.0.7"},))
    return compile_l3.RouterInputs(**{**base, **kw})


def test_compile_router_intent():
    out = compile_l3.compile_router(_inputs())
    (key,) = out
    assert key == "h_1.router.r1"
    intent = compile_l3.build_intent(_inputs())
    assert intent.interfaces[0].cidrs == ("10.0.0.1/24",) and intent.interfaces[0].mtu == 1450
    assert intent.gateway.gateway_ip == "203.0.113.1" and intent.gateway.port.mtu == 1500
    assert [f.floating_ip_address for f in intent.floating_ips] == ["203.0.113.50"]
    assert compile_l3.compile_router(_inputs()) == out, "deterministic bytes"
    assert compile_l3.compile_router(_inputs(host="")) == {}


# --- folds: incremental == replay
EVENTS = [
    ("router", "r1", RouterCreated(router_id="r1", project_id="p", name="r")),
    ("router", "r1", RouterGatewaySet(router_id="r1", network_id="ext", port_id="qg")),
    ("router", "r1", RouterInterfaceAdded(router_id="r1", port_id="qr", subnet_id="s1", network_id="n1")),
    ("router", "r1", RouterScheduled(router_id="r1", host="h1")),
    ("router", "r1", RouterUpdated(router_id="r1", routes=(Route(destination="10.9.0.0/16", nexthop="10.0.0.9"),))),
    ("floatingip", "f1", FloatingIpCreated(floatingip_id="f1", project_id="p", floating_network_id="ext",
                                           floating_subnet_id="se", floating_ip_address="203.0.113.50",
                                           floating_port_id="fp")),
    ("floatingip", "f1", FloatingIpAssociated(floatingip_id="f1", port_id="vm", fixed_ip_address="10.0.0.7",
                                              router_id="r1")),
    ("floatingip", "f1", FloatingIpDisassociated(floatingip_id="f1")),
    ("router", "r1", RouterInterfaceRemoved(router_id="r1", port_id="qr", subnet_id="s1")),
    ("router", "r1", RouterDeleted(router_id="r1")),
]


class Tables:
    def __init__(self):
        self.t = {}

    def read(self, table, id):
        return self.t.get(table, {}).get(("id", id))

    def apply(self, writes):
        for w in writes:
            rows = self.t.setdefault(w.table, {})
            if isinstance(w, Put):
                key = ("id", w.row["id"]) if "id" in w.row else tuple(sorted(w.row.items()))[:2]
                rows[key] = w.row
            elif isinstance(w, Delete):
                for k in [k for k, r in rows.items() if all(r.get(a) == b for a, b in w.key.items())]:
                    del rows[k]


def fold(events):
    db = Tables()
    for seq, (kind, agg, ev) in enumerate(events, 1):
        env = wrap(ev, kind=kind, aggregate_id=agg, time="2026-01-01T00:00:00Z")
        fn = evolve_router if kind == "router" else evolve_floatingip
        db.apply(fn(env, seq, db.read))
    return db.t


@pytest.mark.parametrize("cut", range(1, len(EVENTS) + 1))
def test_fold_is_deterministic(cut):
    assert fold(EVENTS[:cut]) == fold(EVENTS[:cut])


def test_fold_states():
    t = fold(EVENTS[:5])
    row = t["routers"][("id", "r1")]
    assert row["host"] == "h1" and row["gw_port_id"] == "qg" and row["seq"] == 5
    assert len(t["router_ports"]) == 1
    t = fold(EVENTS)
    assert not t["routers"] and not t["router_ports"]


# --- deciders
def test_interface_checks():
    r = {"id": "r1"}
    itfs = [{"subnet_id": "s1", "cidr": "10.0.0.0/24"}]
    with pytest.raises(BadRequest, match="already has a port on subnet s1"):
        decide.check_new_interface(r, {"id": "s1", "cidr": "10.0.0.0/24"}, itfs)
    with pytest.raises(BadRequest, match="overlaps with cidr"):
        decide.check_new_interface(r, {"id": "s2", "cidr": "10.0.0.128/25"}, itfs)
    decide.check_new_interface(r, {"id": "s3", "cidr": "10.0.1.0/24"}, itfs)
    with pytest.raises(NotFound) as e:
        decide.find_interface("r1", itfs and [{"subnet_id": "s1", "port_id": "p"}], port_id=None, subnet_id="s9")
    assert e.value.type == "RouterInterfaceNotFoundForSubnet"


def test_routes_validation():
    ok = decide.validate_routes([{"destination": "10.9.0.0/16", "nexthop": "10.0.0.9"}] * 2,
                                cidrs=["10.0.0.0/24"], own_ips={"10.0.0.1"})
    assert ok == (Route(destination="10.9.0.0/16", nexthop="10.0.0.9"),)
    for hop, why in (("192.168.1.1", "not connected"), ("10.0.0.1", "used by router")):
        with pytest.raises(BadRequest, match=why):
            decide.validate_routes([{"destination": "10.9.0.0/16", "nexthop": hop}], cidrs=["10.0.0.0/24"],
                                   own_ips={"10.0.0.1"})


def test_delete_router_in_use():
    with pytest.raises(Conflict) as e:
        decide.decide_delete({"id": "r1"}, 3, interfaces=[{"port_id": "p"}], gw_delete=None, fips_on_router=0,
                             subjects=None)
    assert e.value.type == "RouterInUse"


def test_floating_ip_router_resolution():
    port = {"id": "p", "device_owner": "compute:nova", "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.7"}]}
    routers = [{"id": "r2", "gw_network_id": "other", "subnet_ids": ["s1"]},
               {"id": "r1", "gw_network_id": "ext", "subnet_ids": ["s1"]}]
    a = fip_decide.resolve(port, None, floating_network_id="ext", fip_id="f", fip_address="x", routers=routers,
                           taken=[])
    assert (a.port_id, a.fixed_ip, a.router_id) == ("p", "10.0.0.7", "r1")
    with pytest.raises(NotFound) as e:
        fip_decide.resolve(port, None, floating_network_id="ext", fip_id="f", fip_address="x", routers=routers[:1],
                           taken=[])
    assert e.value.type == "ExternalGatewayForFloatingIPNotFound"
    with pytest.raises(Conflict):
        fip_decide.resolve(port, None, floating_network_id="ext", fip_id="f", fip_address="x", routers=routers,
                           taken=[{"id": "g", "fixed_ip_address": "10.0.0.7"}])
