"""The only module that touches the kernel for Linux bridge: observe links/fdb, apply ops.

pyroute2's async API (no threads) in the host's namespace (``cfg.netns``, "" = ours).
Links we create carry ``MARK`` in IFLA_IFALIAS (the kernel ignores an alias given at
creation, so it is set right after). ``writes`` counts applied ops (one netlink write
each, the alias being part of its AddLink): a restart with nothing changed leaves it
at 0. "Already done" errors (deleting what is gone, adding a flood entry that exists)
are success: the next observe is the truth anyway.

Security groups: ``nft`` runs inside the host namespace (``nsenter --net``, which only
enters an existing namespace); a run of consecutive table ops is one ``nft -f -``
transaction, so a port's SG table and anti-spoofing guard are replaced atomically. One
``nft`` run per observe lists both families we own tables in (inet SG tables, bridge
guards), never the host's other rulesets.
The br_netfilter sysctls are read and written from a short-lived thread that joined
the namespace (/proc/sys/net is per network namespace).
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import threading
from collections.abc import Callable

import structlog
from pyroute2 import AsyncIPRoute
from pyroute2.netns import setns
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTMGRP_LINK

from netledger.services.l2.linuxbridge import ops as O
from netledger.services.l2.linuxbridge.model import MARK, BridgeObserved, ObsLink
from netledger.services.l2.linuxbridge.sg import parse_tables, replace_script

log = structlog.get_logger("l2.linuxbridge")
ZERO_MAC = "00:00:00:00:00:00"
VXLAN_PORT = 4789
IFF_UP = 0x1
_ALREADY = {O.DelLink: (errno.ENODEV,), O.DelFlood: (errno.ENOENT,), O.AddFlood: (errno.EEXIST,)}
_NFT_OPS = (O.ReplaceNftTable, O.DelNftTable)
_SYSCTL = "/proc/sys/net/bridge/bridge-nf-call-"
_LIST_OURS = ("-t", "list ruleset inet; list ruleset bridge")     # nft joins argv into one command line


def _ipr(netns: str) -> AsyncIPRoute:
    return AsyncIPRoute(fileno=_netlink_fd(netns)) if netns else AsyncIPRoute()


def _netlink_fd(netns: str) -> int:
    """A NETLINK_ROUTE socket made inside ``netns`` by a short-lived thread of ours.

    Why not pyroute2's ``netns=``: it creates a missing namespace (we must never), and
    it forks a helper that it then SIGTERMs; the helper inherits the event loop's
    signal wakeup fd, so the agent's own SIGTERM handler fires and it stops. setns()
    moves only the calling thread, so the loop's thread never changes namespace.
    """
    return _in_netns(netns, lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM,
                                                  socket.NETLINK_ROUTE).detach())


def _in_netns(netns: str, fn: Callable[[], object]):
    """``fn()`` in a short-lived thread that joined ``netns`` ("" = ours, no thread)."""
    if not netns:
        return fn()
    out: dict[str, object] = {}

    def run() -> None:
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                setns(target, flags=0)
                out["value"] = fn()
            finally:
                setns(own, flags=0)
                os.close(target)
        except OSError as exc:
            out["error"] = exc
        finally:
            os.close(own)

    t = threading.Thread(target=run, name=f"netns-{netns}")
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]          # type: ignore[misc]
    return out["value"]


def _read_bridge_nf() -> tuple[bool, bool]:
    vals = []
    for fam in ("iptables", "ip6tables"):
        try:
            with open(_SYSCTL + fam) as fh:
                vals.append(fh.read().strip() == "1")
        except FileNotFoundError:          # br_netfilter absent: nothing is filtered
            vals.append(False)
    return vals[0], vals[1]


def _write_bridge_nf(on: bool) -> None:
    for fam in ("iptables", "ip6tables"):
        with open(_SYSCTL + fam, "w") as fh:
            fh.write("1" if on else "0")


def _obs_link(msg, names: dict[int, str]) -> ObsLink:
    info = msg.get_attr("IFLA_LINKINFO")
    kind = (info.get_attr("IFLA_INFO_KIND") if info else None) or ""
    data = info.get_attr("IFLA_INFO_DATA") if info and kind == "vxlan" else None
    return ObsLink(name=msg.get_attr("IFLA_IFNAME"), kind=kind,
                   master=names.get(msg.get_attr("IFLA_MASTER") or 0, ""),
                   up=bool(msg["flags"] & IFF_UP), mtu=msg.get_attr("IFLA_MTU") or 0,
                   mine=msg.get_attr("IFLA_IFALIAS") == MARK,
                   vni=data.get_attr("IFLA_VXLAN_ID") if data else None,
                   local=(data.get_attr("IFLA_VXLAN_LOCAL") or "") if data else "")


class LinuxBridgeDriver:
    def __init__(self, netns: str = "") -> None:
        self.netns = netns
        self.writes = 0
        self.ipr: AsyncIPRoute | None = None
        self._index: dict[str, int] = {}
        self._monitor: asyncio.Task | None = None

    async def start(self, on_tap: Callable[[str], None] | None = None) -> None:
        self.ipr = _ipr(self.netns)
        if on_tap is not None:
            mon = _ipr(self.netns)
            await mon.bind(groups=RTMGRP_LINK)
            self._monitor = asyncio.create_task(self._watch(mon, on_tap))

    async def stop(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            await asyncio.gather(self._monitor, return_exceptions=True)
            self._monitor = None
        if self.ipr is not None:
            self.ipr.close()
            self.ipr = None

    async def _watch(self, mon: AsyncIPRoute, on_tap: Callable[[str], None]) -> None:
        """Instance taps appearing, going or changing master wake the worker up."""
        try:
            while True:
                async for msg in mon.get():
                    name = msg.get_attr("IFLA_IFNAME") or ""
                    if name.startswith("tap"):
                        on_tap(name[3:])
        finally:
            mon.close()

    # --- observe
    async def _nft(self, *args: str, stdin: str | None = None) -> str:
        cmd = (["nsenter", f"--net=/run/netns/{self.netns}"] if self.netns else []) + ["nft", *args]
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        if proc.returncode != 0:
            raise RuntimeError(f"nft {' '.join(args)}: {err.decode().strip()[:500]}")
        return out.decode()

    async def observe(self) -> BridgeObserved:
        try:                                # one nft run, listing only the two families we own tables in
            listing = await self._nft(*_LIST_OURS)
        except FileNotFoundError:           # no nft binary: no tables; wiring unfiltered ports still works
            listing = ""
        nf4, nf6 = await asyncio.to_thread(_in_netns, self.netns, _read_bridge_nf)
        raw = [m async for m in await self.ipr.get_links()]
        names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in raw}
        self._index = {n: i for i, n in names.items()}
        links = {ln.name: ln for ln in (_obs_link(m, names) for m in raw)}
        vx = {self._index[n]: n for n, ln in links.items() if ln.kind == "vxlan"}
        fdb: dict[str, set[str]] = {n: set() for n in vx.values()}
        # one host-wide dump: pyroute2 filters a per-device dump client-side (50x slower)
        async for f in await self.ipr.fdb("dump"):
            dst = f.get_attr("NDA_DST")
            if f["ifindex"] in vx and dst and f.get_attr("NDA_LLADDR") == ZERO_MAC:
                fdb[vx[f["ifindex"]]].add(dst)
        return BridgeObserved(links=links, fdb={n: frozenset(d) for n, d in fdb.items()},
                          nft=parse_tables(listing, "inet"), nft_bridge=parse_tables(listing, "bridge"),
                          nf_call_iptables=nf4, nf_call_ip6tables=nf6)

    # --- apply
    async def apply(self, ops: list[O.Op]) -> None:
        """In the planner's order; the first real failure stops (the worker retries).
        Consecutive nft table ops go in one transaction (all or nothing)."""
        i = 0
        while i < len(ops):
            if isinstance(ops[i], _NFT_OPS):
                j = i
                while j < len(ops) and isinstance(ops[j], _NFT_OPS):
                    j += 1
                await self._nft("-f", "-", stdin=replace_script(ops[i:j]))
                self.writes += j - i
                i = j
                continue
            await self._apply_one(ops[i])
            i += 1

    async def _apply_one(self, op: O.Op) -> None:
        if isinstance(op, O.SetBridgeNf):
            await asyncio.to_thread(_in_netns, self.netns, lambda: _write_bridge_nf(op.on))
            self.writes += 1
            return
        try:
            await self._one(op)
        except NetlinkError as exc:
            if exc.code not in _ALREADY.get(type(op), ()):
                raise RuntimeError(f"{type(op).__name__} {op}: {exc}") from exc
        self.writes += 1

    async def _idx(self, name: str) -> int:
        if name not in self._index:
            found = await self.ipr.link_lookup(ifname=name)
            if not found:
                raise RuntimeError(f"link {name} not found")
            self._index[name] = found[0]
        return self._index[name]

    async def _one(self, op: O.Op) -> None:
        ipr = self.ipr
        match op:
            case O.AddLink():
                await self._add_link(op)
            case O.DelLink(name=n):
                idx = await self._idx(n)
                self._index.pop(n, None)
                await ipr.link("del", index=idx)
            case O.MarkLink(name=n):
                await ipr.link("set", index=await self._idx(n), ifalias=MARK)
            case O.SetMtu(name=n, mtu=m):
                await ipr.link("set", index=await self._idx(n), mtu=m)
            case O.SetMaster(name=n, master=m):
                await ipr.link("set", index=await self._idx(n), master=await self._idx(m) if m else 0)
            case O.SetUp(name=n):
                await ipr.link("set", index=await self._idx(n), state="up")
            case O.AddFlood(dev=d, dst=dst):
                await ipr.fdb("append", ifindex=await self._idx(d), lladdr=ZERO_MAC, dst=dst)
            case O.DelFlood(dev=d, dst=dst):
                await ipr.fdb("del", ifindex=await self._idx(d), lladdr=ZERO_MAC, dst=dst)
            case _:
                raise ValueError(f"unknown op {op!r}")

    async def _add_link(self, op: O.AddLink) -> None:
        kw: dict = {"ifname": op.name, "kind": op.kind}
        if op.kind == "vxlan":
            # learning on: unicast MACs are learned, only flooding is steered (l2pop style)
            kw.update(vxlan_id=op.vni, vxlan_local=op.local, vxlan_port=VXLAN_PORT, vxlan_learning=True)
        if op.mtu:
            kw["mtu"] = op.mtu
        self._index.pop(op.name, None)
        await self.ipr.link("add", **kw)
        await self.ipr.link("set", index=await self._idx(op.name), ifalias=MARK)
