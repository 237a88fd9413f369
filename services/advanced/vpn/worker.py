"""The VPN worker loop: KV watch -> work queue -> reconcile one router's charon ->
status events from the real IKE/CHILD SA state.

Level-triggered: a KV change (bucket NL_VPN, keys ``<host>.vpn.<router>``) only queues
``router:<id>``; reconciling reads the intent, observes files, charon and routes, plans
and applies. Start-up (after the watch replayed) and a periodic resync queue every
router known from intents *or* found in our state directory, so a charon whose router
lost its VPN is stopped. Failures retry that router with backoff and report ERROR.
Statuses: a site connection is ACTIVE while an ESTABLISHED IKE SA of its name holds an
INSTALLED CHILD SA, DOWN otherwise; a VPN service is ACTIVE while its charon runs with
the current configuration loaded. Reports are published only when they change.
Every ``heartbeat_interval`` an AgentHeartbeat (agent_type "VPN agent", id derived from
the host) says the worker is alive, so it shows in GET /v2.0/agents.
"""

from __future__ import annotations

import asyncio
import uuid

import msgspec
import structlog

from netledger.libs.secret_store import SecretStore

from netledger.libs.worker_runtime import apply_entry, every
from netledger.libs.bus import Bus
from netledger.libs.events.envelope import utc_now, wrap
from netledger.libs.events.status import AgentHeartbeat
from netledger.libs.events.subjects import host_token
from netledger.libs.events.vpnaas import VpnIntent, VpnStatusReported
from netledger.services.l2.workqueue import WorkQueue, backoff

from .config import VpnConfig
from .driver_charon import CharonDriver
from .model import describe
from .plan import plan, want
from .sas import connection_up

log = structlog.get_logger("vpn.worker")
BINARY = "netledger-vpn-agent"
AGENT_TYPE = "VPN agent"
BACKEND = "strongswan-libipsec"
FULL = "@full"
_decode = msgspec.json.Decoder(VpnIntent).decode


def agent_id(host: str) -> str:
    """Stable per host and binary: a restarted agent keeps its row in GET /v2.0/agents."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"netledger:{host}:{BINARY}"))


class VpnWorker:
    def __init__(self, bus: Bus, bucket: str, cfg: VpnConfig, driver: CharonDriver | None = None) -> None:
        self.bus, self.bucket, self.cfg = bus, bucket, cfg
        self.driver = driver or CharonDriver(cfg)
        self.queue = WorkQueue()
        self.intents: dict[str, VpnIntent] = {}
        self.reported: dict[tuple[str, str], str] = {}     # (kind, id) -> status
        self.replayed, self.synced = asyncio.Event(), asyncio.Event()
        self.started_at = utc_now()
        self.log = log.bind(host=cfg.host)
        self.secrets: SecretStore | None = None

    async def run(self, stop: asyncio.Event) -> None:
        kv = await self.bus.js.key_value(self.bucket)
        watcher = await kv.watch(f"{host_token(self.cfg.host)}.vpn.>")
        tasks = [asyncio.create_task(c) for c in (
            self._watch(watcher), self._loop(), self._every(self.cfg.resync_interval, self._resync),
            self._every(self.cfg.status_interval, self._poll_status),
            self._every(self.cfg.heartbeat_interval, self._heartbeat))]
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await watcher.stop()

    async def _watch(self, watcher) -> None:
        initial = True
        async for entry in watcher:
            if entry is None:
                initial = False
                self.queue.add(FULL)
                self.replayed.set()
                continue
            rid = apply_entry(self.intents, entry, _decode, self.log)
            if not initial:
                self.queue.add(f"router:{rid}")

    async def _resync(self) -> None:
        if self.synced.is_set():
            self.queue.add(FULL)

    async def _every(self, interval: float, fn) -> None:
        await every(interval, fn, self.log)

    async def _loop(self) -> None:
        await self.replayed.wait()       # never plan against a partial set of intents
        while True:
            keys = await self.queue.get_batch()
            if FULL in keys:
                routers = set(self.intents) | self.driver.routers_on_disk()
            else:
                routers = {k.split(":", 1)[1] for k in keys}
            ok_all = True
            for rid in sorted(routers):
                ok_all &= await self._one(rid)
            self.queue.done(keys, ok=ok_all)
            if ok_all and FULL in keys and not self.synced.is_set():
                self.synced.set()

    async def _one(self, rid: str) -> bool:
        structlog.contextvars.bind_contextvars(key=rid)
        key = f"router:{rid}"
        try:
            await self.reconcile(rid)
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - retried with backoff, never crash
            delay = backoff(self.queue.failures(key) + 1)
            self.log.warning("reconcile failed", router_id=rid, error=str(exc)[:300], retry_in=delay)
            self.queue.add_after(key, delay)
            await self._report_router(rid, "ERROR")
            return False
        finally:
            structlog.contextvars.unbind_contextvars("key")

    async def _open_psks(self, intent: VpnIntent) -> VpnIntent:
        """The intent with each sealed PSK opened, in memory only (the intent bucket and
        the log hold ciphertext; charon's 0600 file is where the plaintext has to be).
        A shredded key raises: that router retries and reports ERROR."""
        if self.secrets is None:
            self.secrets = await SecretStore.open(self.bus)
        conns = [msgspec.structs.replace(c, psk=await self.secrets.open_sealed(c.psk_sealed), psk_sealed=None)
                 if c.psk_sealed is not None else c for c in intent.connections]
        return msgspec.structs.replace(intent, connections=tuple(conns))

    async def reconcile(self, rid: str) -> None:
        intent = self.intents.get(rid)
        if intent is not None:
            intent = await self._open_psks(intent)
        ns = self.cfg.netns(rid)
        wanted = want(intent, ns, self.cfg.statedir(rid)) if intent is not None else None
        seen = await self.driver.observe(rid)
        ops = plan(wanted, seen)
        if ops:
            self.log.info("plan", router_id=rid, n=len(ops), ops=[describe(o) for o in ops])
            await self.driver.apply(ops)
        if wanted is not None and not seen.netns_exists:
            raise RuntimeError(f"router namespace {ns} is not there yet")
        await self._poll_router(rid)

    # --- status
    async def _heartbeat(self) -> None:
        aid = agent_id(self.cfg.host)
        ev = AgentHeartbeat(agent_id=aid, host=self.cfg.host, agent_type=AGENT_TYPE, binary=BINARY,
                            backend=BACKEND, started_at=self.started_at, interval=self.cfg.heartbeat_interval)
        await self.bus.publish(self.bus.subjects.status("agent", aid), wrap(ev, kind="agent", aggregate_id=aid))

    async def _poll_status(self) -> None:
        if self.synced.is_set():
            for rid in sorted(self.intents):
                try:
                    await self._poll_router(rid)
                except Exception as exc:  # noqa: BLE001 - a charon being restarted: next round
                    self.log.info("status poll failed", router_id=rid, error=str(exc)[:200])

    async def _poll_router(self, rid: str) -> None:
        intent = self.intents.get(rid)
        if intent is None:
            return
        running = bool(self.driver._pid(rid))
        states = await self.driver.sa_states(rid) if running else {}
        for sid in intent.vpnservice_ids:
            await self._report("vpnservice", sid, "ACTIVE" if running else "DOWN")
        for c in intent.connections:
            await self._report("ipsec_site_connection", c.connection_id,
                               "ACTIVE" if connection_up(states, c.connection_id) else "DOWN")

    async def _report_router(self, rid: str, status: str) -> None:
        intent = self.intents.get(rid)
        if intent is not None:
            for sid in intent.vpnservice_ids:
                await self._report("vpnservice", sid, status)
            for c in intent.connections:
                await self._report("ipsec_site_connection", c.connection_id, status)

    async def _report(self, kind: str, rid: str, status: str) -> None:
        if self.reported.get((kind, rid)) == status:
            return
        ev = VpnStatusReported(kind=kind, resource_id=rid, host=self.cfg.host, status=status)
        await self.bus.publish(self.bus.subjects.status(kind, rid), wrap(ev, kind=kind, aggregate_id=rid))
        self.reported[(kind, rid)] = status
        self.log.info("vpn status", kind=kind, id=rid, status=status)
