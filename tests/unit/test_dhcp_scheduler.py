"""The DHCP scheduler (pure): who serves which network, and the DHCP port it needs."""

from __future__ import annotations

import random

from netledger.services.dhcp.scheduler import (Agent, Binding, CreatePort, DeletePort, NetworkView, Schedule,
                                               Unschedule, UpdatePort, device_id_for, plan_schedule, port_id_for)

A1, A2 = (Agent(agent_id=f"a{i}", host=f"h{i}", network_types=("local", "vxlan")) for i in (1, 2))


def dport(pid: str, host: str, subnets=("s1",), device_id: str | None = None) -> dict:
    return {"id": pid, "device_owner": "network:dhcp", "device_id": device_id or device_id_for(host, "n"),
            "binding:host_id": host, "fixed_ips": [{"subnet_id": s, "ip_address": "x"} for s in subnets]}


def test_unscheduled_network_goes_to_least_loaded_agent_then_gets_its_port():
    busy = NetworkView(network_id="a", project_id="p", dhcp_subnets=("s0",),
                       binding=Binding(host="h1", agent_id="a1", port_id="pa", seq=3),
                       dhcp_ports=(dport("pa", "h1", ("s0",)),))
    new = NetworkView(network_id="n", project_id="p", dhcp_subnets=("s1",))
    assert plan_schedule([busy, new], [A1, A2]) == [
        Schedule(network_id="n", host="h2", agent_id="a2", port_id=port_id_for("n", 0), expect_seq=0)]
    scheduled = NetworkView(network_id="n", project_id="p", dhcp_subnets=("s1",),
                            binding=Binding(host="h2", agent_id="a2", port_id="pn", seq=9))
    assert plan_schedule([scheduled], [A1, A2]) == [
        CreatePort(network_id="n", project_id="p", port_id="pn", host="h2", subnet_ids=("s1",))]


def test_no_live_agent_means_no_decision():
    assert plan_schedule([NetworkView(network_id="n", project_id="p", dhcp_subnets=("s1",))], []) == []


def test_dead_agent_network_moves_and_its_port_is_rebound():
    view = NetworkView(network_id="n", project_id="p", dhcp_subnets=("s1",),
                       binding=Binding(host="h1", agent_id="a1", port_id="pn", seq=5),
                       dhcp_ports=(dport("pn", "h1"),))
    assert plan_schedule([view], [A2]) == [Schedule(network_id="n", host="h2", agent_id="a2", port_id="pn",
                                                    expect_seq=5)]
    moved = NetworkView(network_id="n", project_id="p", dhcp_subnets=("s1",),
                        binding=Binding(host="h2", agent_id="a2", port_id="pn", seq=6), dhcp_ports=(dport("pn", "h1"),))
    assert plan_schedule([moved], [A2]) == [UpdatePort(port_id="pn", host="h2", subnet_ids=("s1",))]


def test_subnet_enabled_later_updates_the_port_addresses():
    view = NetworkView(network_id="n", project_id="p", dhcp_subnets=("s1", "s2"),
                       binding=Binding(host="h1", agent_id="a1", port_id="pn", seq=5), dhcp_ports=(dport("pn", "h1"),))
    assert plan_schedule([view], [A1]) == [UpdatePort(port_id="pn", host="h1", subnet_ids=("s1", "s2"))]


def test_dhcp_disabled_removes_port_and_schedule_and_stray_ports_go():
    off = NetworkView(network_id="n", project_id="p", binding=Binding(host="h1", agent_id="a1", port_id="pn", seq=5),
                      dhcp_ports=(dport("pn", "h1"),))
    assert plan_schedule([off], [A1]) == [DeletePort(port_id="pn"), Unschedule(network_id="n", host="h1", expect_seq=5)]
    stray = NetworkView(network_id="n", project_id="p", dhcp_subnets=("s1",),
                        binding=Binding(host="h1", agent_id="a1", port_id="pn", seq=5),
                        dhcp_ports=(dport("pn", "h1"), dport("old", "h1")))
    assert plan_schedule([stray], [A1]) == [DeletePort(port_id="old")]


def test_port_ids_are_fresh_per_decision():
    assert port_id_for("n", 0) == port_id_for("n", 0) != port_id_for("n", 7)


def test_converges_over_random_worlds():
    """Applying the steps to a model of the projection reaches [] within a few rounds,
    with every DHCP network served by exactly one live agent through one port."""
    rng = random.Random(5)
    for _ in range(60):
        agents = [a for a in (A1, A2, Agent(agent_id="a3", host="h3", network_types=("local",))) if rng.random() < 0.8]
        world = {f"n{i}": {"subnets": tuple(sorted(rng.sample(["s1", "s2", "s3"], rng.randrange(3)))),
                           "binding": Binding(), "ports": {}} for i in range(5)}
        for _round in range(6):
            views = [NetworkView(network_id=n, project_id="p", dhcp_subnets=w["subnets"], binding=w["binding"],
                                 dhcp_ports=tuple(w["ports"].values())) for n, w in world.items()]
            actions = plan_schedule(views, agents)
            if not actions:
                break
            for a in actions:
                _apply(world, a)
        assert plan_schedule(views, agents) == []
        for n, w in world.items():
            if w["subnets"] and agents:
                assert w["binding"].host in {a.host for a in agents}
                (port,) = w["ports"].values()
                assert port["binding:host_id"] == w["binding"].host
            else:
                assert not w["ports"]


def _apply(world: dict, a) -> None:
    if isinstance(a, Schedule):
        w = world[a.network_id]
        w["binding"] = Binding(host=a.host, agent_id=a.agent_id, port_id=a.port_id, seq=w["binding"].seq + 1)
    elif isinstance(a, Unschedule):
        w = world[a.network_id]
        w["binding"] = Binding(seq=w["binding"].seq + 1)
    elif isinstance(a, CreatePort):
        world[a.network_id]["ports"][a.port_id] = dport(a.port_id, a.host, a.subnet_ids)
    elif isinstance(a, UpdatePort):
        for w in world.values():
            if a.port_id in w["ports"]:
                w["ports"][a.port_id] = dport(a.port_id, a.host, a.subnet_ids)
    elif isinstance(a, DeletePort):
        for w in world.values():
            w["ports"].pop(a.port_id, None)


def test_only_hosts_whose_l2_agent_wires_the_network_type_are_chosen():
    no_l2 = Agent(agent_id="a9", host="h0", network_types=())
    view = NetworkView(network_id="n", project_id="p", network_type="vxlan", dhcp_subnets=("s1",))
    assert plan_schedule([view], [no_l2]) == []
    (step,) = plan_schedule([view], [no_l2, A2])
    assert step.host == "h2"
