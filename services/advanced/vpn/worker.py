"""The VPN worker: its desired state (VpnIntent), its observation (files, charon,
routes), its pure planner and its driver, run by the shared intent runtime
(libs/worker_runtime), plus status from the real IKE/CHILD SA state.

Level-triggered: a KV change (bucket NL_VPN, keys ``<host>.vpn.<router>``) only queues
``router:<id>``; reconciling reads the intent, observes, plans and applies. The
periodic ``@full`` key covers every router known from intents *or* found in our state
directory, so a charon whose router lost its VPN is stopped. A failure retries that
router alone with backoff and reports ERROR.
Statuses: a site connection is ACTIVE while an ESTABLISHED IKE SA of its name holds an
INSTALLED CHILD SA, DOWN otherwise; a VPN service is ACTIVE while its charon runs with
the current configuration loaded. Reports are published only when they change.
Every ``heartbeat_interval`` an AgentHeartbeat (agent_type "VPN agent", id derived from
the host) says the worker is alive, so it shows in GET /v2.0/agents.
"""

from __future__ import annotations

import asyncio

import msgspec
import structlog

from netledger.libs.bus import Bus
from netledger.libs.secret_store import SecretStore
from netledger.libs.events.envelope import wrap
from netledger.libs.events.vpnaas import VpnIntent, VpnStatusReported
from netledger.libs.worker_runtime import IntentRuntime, Job, Identity

from .config import VpnConfig
from .driver_charon import CharonDriver
from .model import describe
from .plan import plan, want
from .sas import connection_up

log = structlog.get_logger("vpn.worker")
BINARY = "netledger-vpn-agent"
AGENT_TYPE = "VPN agent"
BACKEND = "strongswan-libipsec"
IDENTITY = Identity(binary=BINARY, agent_type=AGENT_TYPE, backend=BACKEND)
agent_id = IDENTITY.agent_id


class VpnWorker:
    def __init__(self, bus: Bus, bucket: str, cfg: VpnConfig, driver: CharonDriver | None = None) -> None:
        self.bus, self.cfg = bus, cfg
        self.driver = driver or CharonDriver(cfg)
        self.reported: dict[tuple[str, str], str] = {}     # (kind, id) -> status
        self.log = log.bind(host=cfg.host)
        self.secrets: SecretStore | None = None
        self.rt = IntentRuntime.of(self, bus, bucket, cfg, kind="vpn", intent=VpnIntent, who=IDENTITY,
                                   jobs=(Job(cfg.status_interval, self._poll_status),), log=self.log)
        self.intents, self.queue, self.replayed, self.synced = (
            self.rt.intents, self.rt.queue, self.rt.replayed, self.rt.synced)

    async def run(self, stop: asyncio.Event) -> None:
        await self.rt.run(stop)

    # --- the Reconciler protocol
    async def host_view(self) -> None:
        return None                      # each router is observed on its own

    async def present(self, host: None) -> set[str]:
        return self.driver.routers_on_disk()

    async def failed(self, rid: str, exc: Exception) -> None:
        await self._report_router(rid, "ERROR")

    async def _open_psks(self, intent: VpnIntent) -> VpnIntent:
        """The intent with each sealed PSK opened, in memory only (the intent bucket and
        the log hold ciphertext; charon's 0600 file is where the plaintext has to be).
        A shredded key raises: that router retries and reports ERROR."""
        if self.secrets is None:
            self.secrets = await SecretStore.open(self.bus)
        conns = [msgspec.structs.replace(c, psk=await self.secrets.open_sealed(c.psk_sealed), psk_sealed=None)
                 if c.psk_sealed is not None else c for c in intent.connections]
        return msgspec.structs.replace(intent, connections=tuple(conns))

    async def reconcile(self, rid: str, host: None = None) -> None:
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
