"""Which DHCP agent serves which network, and what its DHCP port must look like (pure).

Who decides: the API process ("the server", as Neutron's dhcp_agent_scheduler), in
``schedule_loop``; every API process may run it. Each decision is a fact on the
network's DHCP subject published with the subject's expected last sequence, so
concurrent schedulers cannot both win; the loser re-reads and finds nothing to do.

Level-triggered: ``plan_schedule`` compares what should be (every network with a
DHCP-enabled subnet served by one live agent through one ``network:dhcp`` port with an
address on each DHCP-enabled subnet) with what the projection shows, and returns the
next steps. Steps that depend on each other (schedule, then create the port) happen in
successive rounds, each against fresh state; [] means converged.
"""

from __future__ import annotations

import uuid

from netledger.libs.events.base import Struct
from netledger.libs.events.dhcp import DHCP_OWNER

_NS = uuid.UUID("2f9b7c1e-4d0a-4e57-9a61-6468637073ed")


class Agent(Struct, frozen=True, kw_only=True):
    """A live DHCP agent, with the network types the live L2 agent on its host wires
    (its DHCP port must be bindable there, or dnsmasq would serve an unwired port)."""

    agent_id: str
    host: str
    network_types: tuple[str, ...] = ()


class Binding(Struct, frozen=True, kw_only=True):
    host: str = ""
    agent_id: str = ""
    port_id: str = ""
    seq: int = 0


class NetworkView(Struct, frozen=True, kw_only=True):
    """What the scheduler needs to know about one network."""

    network_id: str
    project_id: str
    network_type: str = "local"
    dhcp_subnets: tuple[str, ...] = ()           # ids of enable_dhcp subnets, sorted
    binding: Binding = Binding()
    dhcp_ports: tuple[dict, ...] = ()            # network:dhcp port bodies owned by agents
    exists: bool = True


class Schedule(Struct, frozen=True, kw_only=True):
    network_id: str
    host: str
    agent_id: str
    port_id: str
    expect_seq: int


class Unschedule(Struct, frozen=True, kw_only=True):
    network_id: str
    host: str
    expect_seq: int


class CreatePort(Struct, frozen=True, kw_only=True):
    network_id: str
    project_id: str
    port_id: str
    host: str
    subnet_ids: tuple[str, ...]


class UpdatePort(Struct, frozen=True, kw_only=True):
    """Rebind (a rescheduled network) and/or fix the addresses (subnets enabled/disabled)."""

    port_id: str
    host: str
    subnet_ids: tuple[str, ...]


class DeletePort(Struct, frozen=True, kw_only=True):
    port_id: str


Action = Schedule | Unschedule | CreatePort | UpdatePort | DeletePort


def port_id_for(network_id: str, decision_seq: int) -> str:
    """Deterministic per scheduling decision: a retried create reuses its claims, and a
    port re-created after DHCP was disabled gets a fresh id (never a deduped one)."""
    return str(uuid.uuid5(_NS, f"{network_id}:{decision_seq}"))


def device_id_for(host: str, network_id: str) -> str:
    """Neutron's DHCP port device_id: ``dhcp<uuid5(host)>-<network_id>``."""
    return f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, host)}-{network_id}"


def is_agent_port(port: dict) -> bool:
    """Only DHCP ports an agent owns (Neutron's device_id scheme) are ever deleted here."""
    return port.get("device_owner") == DHCP_OWNER and str(port.get("device_id", "")).startswith("dhcp")


def pick_agent(agents: list[Agent], load: dict[str, int]) -> Agent | None:
    """The least loaded live agent (ties: by host name): deterministic."""
    if not agents:
        return None
    return min(agents, key=lambda a: (load.get(a.host, 0), a.host))


def _port_actions(net: NetworkView) -> list[Action]:
    b = net.binding
    current = next((p for p in net.dhcp_ports if p["id"] == b.port_id), None)
    out: list[Action] = [DeletePort(port_id=p["id"]) for p in net.dhcp_ports if p["id"] != b.port_id]
    if current is None:
        out.append(CreatePort(network_id=net.network_id, project_id=net.project_id, port_id=b.port_id,
                              host=b.host, subnet_ids=net.dhcp_subnets))
        return out
    have = tuple(sorted({f["subnet_id"] for f in current.get("fixed_ips", [])}))
    if have != net.dhcp_subnets or current.get("binding:host_id") != b.host:
        out.append(UpdatePort(port_id=b.port_id, host=b.host, subnet_ids=net.dhcp_subnets))
    return out


def plan_network(net: NetworkView, live: list[Agent], load: dict[str, int]) -> list[Action]:
    b = net.binding
    if not net.exists or not net.dhcp_subnets:
        out: list[Action] = [DeletePort(port_id=p["id"]) for p in net.dhcp_ports]
        if b.host:
            out.append(Unschedule(network_id=net.network_id, host=b.host, expect_seq=b.seq))
        return out
    able = [a for a in live if net.network_type in a.network_types]
    if not b.host or b.host not in {a.host for a in able}:
        agent = pick_agent(able, load)
        if agent is None:
            return []                           # nobody to serve it: keep what there is
        port_id = b.port_id if b.port_id and b.host else port_id_for(net.network_id, b.seq)
        return [Schedule(network_id=net.network_id, host=agent.host, agent_id=agent.agent_id,
                         port_id=port_id, expect_seq=b.seq)]
    return _port_actions(net)


def plan_schedule(networks: list[NetworkView], live: list[Agent]) -> list[Action]:
    """Steps for every network, in network order; scheduling decisions update the load
    as they go so one round spreads new networks over the agents."""
    load: dict[str, int] = {}
    for net in networks:
        if net.binding.host:
            load[net.binding.host] = load.get(net.binding.host, 0) + 1
    out: list[Action] = []
    for net in sorted(networks, key=lambda n: n.network_id):
        actions = plan_network(net, live, load)
        for a in actions:
            if isinstance(a, Schedule):
                load[a.host] = load.get(a.host, 0) + 1
                if net.binding.host:
                    load[net.binding.host] -= 1
        out.extend(actions)
    return out
