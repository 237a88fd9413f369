"""Runs the DHCP scheduler inside an API process: read the projection, plan, execute.

Wakes on the projection's position announcements (debounced) and every few seconds
(agents dying is a non-event). Every step goes through the ordinary write path: the
scheduling facts with expected-last-subject-sequence, the DHCP port through the port
deciders (claims for its MAC and addresses, so uniqueness holds as for any port).
A failed step is logged and retried on the next round; the state it needs is re-read.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import msgspec
import structlog

from netledger.errors import NotFound
from netledger.libs.bus import PublishError
from netledger.libs.events.dhcp import AGENT_TYPE, DHCP_OWNER, DhcpNetworkScheduled, DhcpNetworkUnscheduled
from netledger.libs.events.envelope import wrap
from netledger.services.api.context import RequestContext
from netledger.services.api.commands import port as port_commands
from netledger.services.api.deciders.claims import Ledger
from netledger.services.api.writer import run_with_retries

from .scheduler import (Agent, Binding, CreatePort, DeletePort, NetworkView, Schedule, Unschedule,
                        UpdatePort, device_id_for, is_agent_port, plan_schedule)

log = structlog.get_logger("dhcp.scheduler")
EVERY_S = 2.0
_dec = msgspec.json.decode


def read_views(conn) -> list[NetworkView]:
    """Networks that have (or had) anything to do with DHCP, as the planner sees them."""
    subnets: dict[str, list[str]] = {}
    for net_id, body in conn.execute("SELECT network_id, body FROM subnets"):
        if _dec(body).get("enable_dhcp"):
            subnets.setdefault(net_id, []).append(_dec(body)["id"])
    ports: dict[str, list[dict]] = {}
    for net_id, body in conn.execute("SELECT network_id, body FROM ports WHERE json_extract(body, "
                                     "'$.device_owner') = ?", [DHCP_OWNER]):
        port = _dec(body)
        if is_agent_port(port):
            ports.setdefault(net_id, []).append(port)
    bindings = {r[0]: Binding(host=r[1], agent_id=r[2], port_id=r[3], seq=r[4])
                for r in conn.execute("SELECT id, host, agent_id, port_id, seq FROM dhcp_bindings")}
    networks = {r[0]: (r[1], r[2] or "local") for r in conn.execute(
        "SELECT id, project_id, json_extract(body, '$.\"provider:network_type\"') FROM networks")}
    ids = set(subnets) | set(ports) | {n for n, b in bindings.items() if b.host}
    return [NetworkView(network_id=n, project_id=networks.get(n, ("", ""))[0], exists=n in networks,
                        network_type=networks.get(n, ("", "local"))[1],
                        dhcp_subnets=tuple(sorted(subnets.get(n, ()))) if n in networks else (),
                        binding=bindings.get(n, Binding()), dhcp_ports=tuple(ports.get(n, ())))
            for n in sorted(ids)]


def fingerprint(conn) -> tuple:
    """Changes whenever something a round depends on may have: subnets, bindings, agents,
    the set of networks. A projection move that changes none of these (a port created,
    updated or bound: most of them) skips the round, which reads every subnet and network;
    the periodic round still runs, catching e.g. a DHCP port deleted by hand."""
    q = conn.execute
    return (q("SELECT count(*), total(seq) FROM subnets").fetchone(),
            q("SELECT count(*), total(seq) FROM dhcp_bindings").fetchone(),
            q("SELECT count(*), total(seq) FROM agents").fetchone(),
            q("SELECT count(*) FROM networks").fetchone())


def live_agents(svc) -> list[Agent]:
    """Live DHCP agents, each with the network types the live L2 agents of its host wire."""
    now = datetime.now(timezone.utc)
    rows = [r for r in svc.reader.agents() if svc.agents.alive(r["last_heartbeat"], now)]
    types: dict[str, set[str]] = {}
    for r in rows:
        if r["agent_type"] != AGENT_TYPE:
            types.setdefault(r["host"], set()).update(_dec(r["body"]).get("network_types", ()))
    return [Agent(agent_id=r["id"], host=r["host"], network_types=tuple(sorted(types.get(r["host"], ()))))
            for r in rows if r["agent_type"] == AGENT_TYPE]


def _ctx(project_id: str, request_id: str) -> RequestContext:
    return RequestContext(request_id=request_id, project_id=project_id or "admin", is_admin=True)


async def _decide_fact(svc, action: Schedule | Unschedule) -> None:
    if isinstance(action, Schedule):
        ev = DhcpNetworkScheduled(network_id=action.network_id, host=action.host, agent_id=action.agent_id,
                                  port_id=action.port_id)
    else:
        ev = DhcpNetworkUnscheduled(network_id=action.network_id, host=action.host)
    env = wrap(ev, kind="dhcp", aggregate_id=action.network_id, request_id="dhcp-scheduler")
    seq = await svc.bus.publish(svc.subjects.aggregate("dhcp", action.network_id), env,
                                msg_id=f"dhcp-sched:{action.network_id}:{action.expect_seq}",
                                expect_seq=action.expect_seq)
    await svc.position.wait_for(seq)


async def _create_port(svc, a: CreatePort) -> None:
    # A fresh request id: a DHCP port deleted by hand and re-created under the same id
    # must not be deduplicated away by JetStream (the projection shows it missing).
    ctx = _ctx(a.project_id, f"dhcp-{a.port_id}-{uuid.uuid4().hex[:8]}")
    req = {"network_id": a.network_id, "device_owner": DHCP_OWNER, "device_id": device_id_for(a.host, a.network_id),
           "binding:host_id": a.host, "fixed_ips": [{"subnet_id": s} for s in a.subnet_ids],
           "admin_state_up": True, "name": "", "project_id": a.project_id}
    ledger = Ledger()
    await run_with_retries(lambda: port_commands.plan_create(svc, ctx, req, a.port_id, ledger.won), svc.writer, ctx, ledger=ledger)


async def _update_port(svc, a: UpdatePort) -> None:
    cur, _ = svc.reader.get("port", a.port_id, None)
    keep = [f for f in cur["fixed_ips"] if f["subnet_id"] in a.subnet_ids]
    fixed = keep + [{"subnet_id": s} for s in a.subnet_ids if s not in {f["subnet_id"] for f in keep}]
    changes = {"fixed_ips": fixed, "binding:host_id": a.host,
               "device_id": device_id_for(a.host, cur["network_id"])}
    ctx, ledger = _ctx(cur["project_id"], f"dhcp-upd-{uuid.uuid4()}"), Ledger()

    def plan():
        current, seq = svc.reader.get("port", a.port_id, None)
        return port_commands.plan_update(svc, ctx, current, seq, changes, ledger.won, check_groups=False)
    await run_with_retries(plan, svc.writer, ctx, ledger=ledger)


async def delete_port(svc, port_id: str) -> None:
    ctx = _ctx("", f"dhcp-del-{uuid.uuid4()}")

    def plan():
        cur, seq = svc.reader.get("port", port_id, None)
        return port_commands.plan_delete(svc, ctx, cur, seq)
    await run_with_retries(plan, svc.writer, ctx)


async def execute(svc, action) -> None:
    log.info("dhcp scheduler step", step=type(action).__name__, **msgspec.to_builtins(action))
    if isinstance(action, (Schedule, Unschedule)):
        await _decide_fact(svc, action)
    elif isinstance(action, CreatePort):
        await _create_port(svc, action)
    elif isinstance(action, UpdatePort):
        await _update_port(svc, action)
    elif isinstance(action, DeletePort):
        await delete_port(svc, action.port_id)


async def run_once(svc) -> list:
    """One round; returns the steps attempted ([]: converged)."""
    actions = plan_schedule(read_views(svc.reader.conn), live_agents(svc))
    for action in actions:
        try:
            await execute(svc, action)
        except (PublishError, Exception) as exc:  # noqa: BLE001 - next round re-plans from fresh state
            log.warning("dhcp scheduler step failed", step=type(action).__name__, error=repr(exc))
    return actions


async def release_network_ports(svc, network_id: str, subnet_id: str | None = None) -> None:
    """Before a network (or one of its subnets) is deleted, as Neutron does for
    network:dhcp ports: drop the DHCP port's address on that subnet, or delete the port
    and unschedule the network when nothing DHCP-enabled would remain."""
    view = next((v for v in read_views(svc.reader.conn) if v.network_id == network_id), None)
    if view is None:
        return
    remaining = tuple(s for s in view.dhcp_subnets if s != subnet_id) if subnet_id else ()
    for port in view.dhcp_ports:
        if remaining and port["id"] == view.binding.port_id:
            await _update_port(svc, UpdatePort(port_id=port["id"], host=view.binding.host, subnet_ids=remaining))
        elif not subnet_id or any(f["subnet_id"] == subnet_id for f in port["fixed_ips"]):
            await delete_port(svc, port["id"])
    if not remaining and view.binding.host:
        await _decide_fact(svc, Unschedule(network_id=network_id, host=view.binding.host,
                                           expect_seq=view.binding.seq))


async def run(svc, *, every: float = EVERY_S) -> None:
    """Forever: a round after each projection move (debounced) or every ``every`` s."""
    wake = asyncio.Event()

    async def on_position(_msg) -> None:
        wake.set()
    sub = await svc.bus.nc.subscribe(svc.subjects.projection_position(svc.cfg.projection_name), cb=on_position)
    seen, timer = None, True
    try:
        while True:
            try:
                now = fingerprint(svc.reader.conn)
                if timer or now != seen:
                    await _rounds(svc)
                    seen = now
            except Exception as exc:  # noqa: BLE001 - never let the scheduler take the API down
                log.warning("dhcp scheduler round failed", error=repr(exc))
            wake.clear()
            try:
                await asyncio.wait_for(wake.wait(), every)
                timer = False
            except asyncio.TimeoutError:
                timer = True
            await asyncio.sleep(0.1)     # debounce bursts of commits
    finally:
        await sub.unsubscribe()


async def _rounds(svc, limit: int = 6) -> None:
    """Rounds until converged, or until a round repeats the last one (a step that keeps
    failing, e.g. a full pool, waits for the next wake-up instead of spinning)."""
    last = None
    for _ in range(limit):
        actions = await run_once(svc)
        if not actions or actions == last:
            return
        last = actions
        await asyncio.sleep(0.05)



async def before_network_delete(svc, ctx, network_id: str) -> None:
    """API hook: only when the agents' DHCP ports are all that keeps the network (the
    delete would fail anyway otherwise; the scheduler would just rebuild them)."""
    if not _visible(svc, ctx, "network", network_id):
        return                                   # the delete itself answers (404 or replay)
    view = next((v for v in read_views(svc.reader.conn) if v.network_id == network_id), None)
    if view and view.dhcp_ports and svc.reader.count_ports(network_id) == len(view.dhcp_ports):
        await release_network_ports(svc, network_id)


async def before_subnet_delete(svc, ctx, subnet_id: str) -> None:
    """API hook: only when DHCP ports hold the subnet's last allocated addresses."""
    subnet = _visible(svc, ctx, "subnet", subnet_id)
    if not subnet:
        return
    view = next((v for v in read_views(svc.reader.conn) if v.network_id == subnet["network_id"]), None)
    if not view:
        return
    held_by_dhcp = sum(1 for p in view.dhcp_ports for f in p["fixed_ips"] if f["subnet_id"] == subnet_id)
    if held_by_dhcp and svc.reader.count_held_ips(subnet_id) == held_by_dhcp:
        await release_network_ports(svc, subnet["network_id"], subnet_id)


def _visible(svc, ctx, kind: str, id: str) -> dict | None:
    """Only resources the caller may delete are touched (another project's: 404 later)."""
    try:
        return svc.reader.get(kind, id, ctx.scope())[0]
    except NotFound:
        return None
