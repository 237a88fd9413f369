"""The only module that touches OVS: observe (OVSDB + our flows) and apply ops.

OVSDB goes through ovsdbapp (its own thread; we call it via ``asyncio.to_thread``).
Flows go through ``ovs-ofctl --bundle`` so each bridge's changes land atomically;
only flows with our cookie are read (``cookie=C/-1``) or deleted (``delete_strict``
with the cookie mask), so other controllers' flows are never touched.
``writes`` counts every dataplane write (one per OVSDB op, one per flow line): a
restart with nothing changed must leave it at 0.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog
from ovsdbapp.backend.ovs_idl import command, connection, idlutils
from ovsdbapp.schema.open_vswitch import impl_idl

from netledger.services.l2.config import COOKIE, OWNER_KEY, OWNER_VALUE, AgentConfig
from netledger.services.l2.ovs import ops as O
from netledger.services.l2.ovs.flows import flow_key, normalize
from netledger.services.l2.ovs.model import ObsBridge, ObsPort, OvsObserved
from netledger.services.l2.ovs.plan import LVID_KEY

log = structlog.get_logger("l2.ovs")
TABLES = ("Open_vSwitch", "Bridge", "Port", "Interface")
# vswitchd rewrites every Interface's statistics/status every few seconds: with 1,000
# ports, parsing those updates in the IDL thread took a sixth of the agent's CPU.
IFACE_COLUMNS_ONLY = {"Interface": ["name", "type", "options", "ofport", "ofport_request", "external_ids", "error"]}
_MARK = {OWNER_KEY: OWNER_VALUE}
_DELETES = (O.DelBridge, O.DelPort, O.DelLocalVlan)


class OfctlError(RuntimeError):
    pass


class _Idl(connection.OvsdbIdl):
    """An IDL that tells us when an instance interface appears, changes or goes, and
    which Port rows changed since the last snapshot (so a snapshot re-reads only those:
    converting 1,000 rows' columns to Python took ~200 ms per batch)."""

    on_iface: Callable[[str], None] | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.port_cache: dict = {}          # Port row uuid -> (bridge name, ObsPort)
        self.iface_port: dict = {}          # Interface row uuid -> Port row uuid
        self.dirty: set = set()             # Port row uuids changed since the last snapshot
        self.all_dirty = True

    def notify(self, event, row, updates=None):
        table = row._table.name
        if table == "Port":
            self.dirty.add(row.uuid)
        elif table == "Interface":
            owner = self.iface_port.get(row.uuid)
            if owner is not None:
                self.dirty.add(owner)
            elif event != "create":        # a new interface comes with a new/changed Port row
                self.all_dirty = True
        if self.on_iface is None or table != "Interface":
            return
        # Only plug-relevant changes (new/deleted row, ofport, external_ids) are worth a reconcile.
        if event == "update" and updates is not None and not (
                _changed(updates, "ofport") or _changed(updates, "external_ids")):
            return
        iid = (getattr(row, "external_ids", None) or {}).get("iface-id")
        if iid:
            self.on_iface(iid)


def _changed(updates, column: str) -> bool:
    return column in getattr(updates, "_data", {})


class _Snapshot(command.ReadOnlyCommand):
    """Read bridges and ports in one go, in the IDL's thread (a consistent view); Port
    rows untouched since the last snapshot are taken from the IDL's cache unless
    ``fresh`` (the periodic full resync re-reads everything)."""

    def __init__(self, api, fresh: bool = False) -> None:
        super().__init__(api)
        self.fresh = fresh

    def run_idl(self, txn):
        idl = self.api.idl
        fresh = idl.all_dirty or self.fresh
        cache, dirty = idl.port_cache, idl.dirty
        new_cache, iface_port = {}, {}
        bridges, ports = {}, {}
        for br in self.api.tables["Bridge"].rows.values():
            ext = dict(br.external_ids)
            bridges[br.name] = ObsBridge(name=br.name, fail_mode=(br.fail_mode or [""])[0],
                                         mine=ext.get(OWNER_KEY) == OWNER_VALUE, external_ids=ext)
            for p in br.ports:
                hit = None if fresh or p.uuid in dirty else cache.get(p.uuid)
                if hit is None or hit[0] != br.name:
                    hit = (br.name, _port(br.name, p))
                    for iface in p.interfaces:
                        iface_port[iface.uuid] = p.uuid
                new_cache[p.uuid] = hit
                ports[hit[1].name] = hit[1]
        # Interface -> Port links only change when the Port row does (its interfaces
        # column), so links of clean ports carry over.
        for i, u in idl.iface_port.items():
            if u in new_cache and u not in dirty and not fresh:
                iface_port.setdefault(i, u)
        idl.port_cache, idl.iface_port, idl.dirty, idl.all_dirty = new_cache, iface_port, set(), False
        self.result = (bridges, ports)


def _port(bridge: str, p) -> ObsPort:
    iface = p.interfaces[0] if p.interfaces else None
    ext = dict(iface.external_ids) if iface is not None else {}
    ofport = (iface.ofport or [-1])[0] if iface is not None else -1
    return ObsPort(name=p.name, bridge=bridge, type=iface.type if iface is not None else "",
                   options=dict(iface.options) if iface is not None else {},
                   tag=(p.tag or [None])[0], ofport=ofport, iface_id=ext.get("iface-id", ""),
                   mine=p.external_ids.get(OWNER_KEY) == OWNER_VALUE)


class _SetColumns(command.BaseCommand):
    """Set columns wholesale (maps replaced, not merged: stale keys must go)."""

    def __init__(self, api, table, record, **cols):
        super().__init__(api)
        self.table, self.record, self.cols = table, record, cols

    def run_idl(self, txn):
        row = self.api.lookup(self.table, self.record)
        for col, val in self.cols.items():
            setattr(row, col, val)


class OvsDriver:
    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.writes = 0
        self.api = None
        self._idl: _Idl | None = None

    async def start(self, on_iface: Callable[[str], None] | None = None) -> None:
        self.api = await asyncio.to_thread(self._connect, on_iface)

    def _connect(self, on_iface):
        helper = idlutils.get_schema_helper(self.cfg.ovsdb, "Open_vSwitch")
        for t in TABLES:
            if t in IFACE_COLUMNS_ONLY:
                helper.register_columns(t, IFACE_COLUMNS_ONLY[t])
            else:
                helper.register_table(t)
        idl = _Idl(self.cfg.ovsdb, helper)
        idl.on_iface = on_iface
        self._idl = idl
        # vswitchd takes seconds to reconfigure a userspace bridge with 1000s of ports
        conn = connection.Connection(idl=idl, timeout=120)
        # ovsdbapp keeps the connection on the class: one subclass per driver keeps
        # several hosts (tests, bench) in one process apart.
        api_cls = type("OvsApi", (impl_idl.OvsdbIdl,), {"_ovsdb_connection": None})
        return api_cls(conn)

    async def stop(self) -> None:
        if self.api is not None:
            if self._idl is not None:
                self._idl.on_iface = None
            await asyncio.to_thread(self.api.ovsdb_connection.stop, 5)
            self.api = None

    # --- observe
    async def observe(self, last: OvsObserved | None = None) -> OvsObserved:
        """OVSDB always fresh (the IDL's in-memory copy); flows re-dumped per bridge only
        when ``last`` (what the previous batch left) is absent or OVS's count of our
        flows differs from it: at 1,000 filtered ports a dump is ~19,000 lines and was
        most of a batch's time. A restarted vswitchd (no flows), a deleted or added
        flow changes the count; a flow edited in place with the same match is caught by
        the periodic full resync, which passes no ``last``."""
        bridges, ports = await asyncio.to_thread(_Snapshot(self.api, fresh=last is None).execute, check_error=True)
        wanted = {self.cfg.integration_bridge, self.cfg.tunnel_bridge, *self.cfg.bridge_mappings.values()}
        names = sorted(b for b in bridges if b in wanted)
        flows = dict(zip(names, await asyncio.gather(*(self._flows_of(b, last) for b in names))))
        return OvsObserved(bridges=bridges, ports=ports, flows=flows)

    async def _flows_of(self, bridge: str, last: OvsObserved | None) -> frozenset[str]:
        known = last.flows.get(bridge) if last is not None else None
        if known is not None and await self._count(bridge) == len(known):
            return known
        return await self._dump(bridge)

    async def _count(self, bridge: str) -> int:
        out = await self._ofctl("dump-aggregate", self._mgmt(bridge), f"cookie={COOKIE:#x}/-1")
        for token in out.split():
            if token.startswith("flow_count="):
                return int(token.split("=", 1)[1])
        return -1

    async def _dump(self, bridge: str) -> frozenset[str]:
        out = await self._ofctl("--names", "dump-flows", "--no-stats", self._mgmt(bridge),
                                f"cookie={COOKIE:#x}/-1")
        lines = [ln for ln in out.splitlines() if "actions=" in ln]
        return frozenset(normalize(ln) for ln in lines)

    # --- apply
    async def apply(self, ops: list[O.Op]) -> None:
        """Flow deletes, OVSDB deletes, OVSDB adds/sets, flow adds: each phase atomic."""
        dels = [op for op in ops if isinstance(op, O.DelFlows)]
        adds = [op for op in ops if isinstance(op, O.AddFlows)]
        db = [op for op in ops if not isinstance(op, (O.DelFlows, O.AddFlows))]
        await self._flows(dels)
        await self._ovsdb([op for op in db if isinstance(op, _DELETES)])
        await self._ovsdb([op for op in db if not isinstance(op, _DELETES)])
        await self._flows(adds)

    async def _ovsdb(self, ops: list[O.Op]) -> None:
        if ops:
            await asyncio.to_thread(self._txn, ops)
            self.writes += len(ops)

    def _txn(self, ops: list[O.Op]) -> None:
        api = self.api
        with api.transaction(check_error=True) as txn:
            for op in ops:
                for cmd in _commands(api, op):
                    txn.add(cmd)

    async def _flows(self, ops: list[O.DelFlows | O.AddFlows]) -> None:
        for op in ops:
            if isinstance(op, O.DelFlows):
                lines = [f"delete_strict cookie={COOKIE:#x}/-1,{flow_key(f)}" for f in op.flows]
            else:
                lines = [f"add cookie={COOKIE:#x},{f.replace(' actions=', ',actions=')}" for f in op.flows]
            await self._ofctl("--bundle", "add-flows", self._mgmt(op.bridge), "-",
                              stdin="\n".join(lines) + "\n")
            self.writes += len(op.flows)

    def _mgmt(self, bridge: str) -> str:
        return f"unix:{self.cfg.rundir}/{bridge}.mgmt"

    async def _ofctl(self, *args: str, stdin: str | None = None) -> str:
        proc = await asyncio.create_subprocess_exec(
            "ovs-ofctl", *args, stdin=asyncio.subprocess.PIPE if stdin else None,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate(stdin.encode() if stdin else None)
        if proc.returncode != 0:
            raise OfctlError(f"ovs-ofctl {' '.join(args[:3])}: {err.decode().strip()}")
        return out.decode()


def _commands(api, op: O.Op) -> list:
    match op:
        case O.AddBridge(name=n, fail_mode=m):
            return [api.add_br(n, may_exist=True, datapath_type="netdev"),
                    api.set_fail_mode(n, m) if m else api.db_clear("Bridge", n, "fail_mode"),
                    api.db_set("Bridge", n, ("external_ids", _MARK))]
        case O.DelBridge(name=n):
            return [api.del_br(n, if_exists=True)]
        case O.SetLocalVlan(bridge=b, network_id=net, vlan=v):
            return [api.br_set_external_id(b, LVID_KEY + net, str(v))]
        case O.DelLocalVlan(bridge=b, network_id=net):
            return [api.db_remove("Bridge", b, "external_ids", LVID_KEY + net, if_exists=True)]
        case O.AddPort(bridge=b, name=n, type=t, options=o):
            return [api.add_port(b, n, may_exist=True), _SetColumns(api, "Interface", n, type=t, options=dict(o)),
                    api.db_set("Port", n, ("external_ids", _MARK))]
        case O.DelPort(bridge=b, name=n):
            return [api.del_port(n, bridge=b, if_exists=True)]
        case O.SetInterface(name=n, type=t, options=o):
            return [_SetColumns(api, "Interface", n, type=t, options=dict(o)),
                    api.db_set("Port", n, ("external_ids", _MARK))]
        case O.SetPortTag(name=n, tag=t):
            return [api.db_set("Port", n, ("tag", t), ("external_ids", _MARK))]
    raise ValueError(f"unknown op {op!r}")
