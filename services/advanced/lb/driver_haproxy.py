"""Applies LB ops and observes the host (I/O only): ip, ovs-vsctl, haproxy, files.

Marks: our OVS ports carry ``netledger-owner=netledger-lb`` and the LB id in
external_ids; namespaces are ``<prefix>qlbaas-<id>``; configs start with our mark.
HAProxy processes are found by the pidfile in the LB's state directory and checked
(``/proc/<pid>/cmdline`` names our config) before any signal; a namespace is deleted
only after the processes inside it (ours: draining old HAProxies) are stopped.
Configs go write ``.new`` -> ``haproxy -c`` -> rename; reloads are ``-sf`` (old
processes finish their connections, new ones take new connections).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal

import structlog

from netledger.libs.driver_host import CommandError, run

from . import plan as P
from .config import LB_KEY, OWNER_KEY, OWNER_VALUE, LbConfig

log = structlog.get_logger("lb.driver")


class HostView:
    def __init__(self, netns: set[str], ovs: dict[str, str]) -> None:
        self.netns, self.ovs = netns, ovs        # ovs: port name -> lb id

    def lbs(self, cfg: LbConfig) -> set[str]:
        found = {cfg.lb_of_netns(n) for n in self.netns} | set(self.ovs.values())
        found |= set(os.listdir(cfg.state_dir)) if os.path.isdir(cfg.state_dir) else set()
        return {x for x in found if x}


class HaproxyDriver:
    def __init__(self, cfg: LbConfig) -> None:
        self.cfg = cfg
        self.writes = 0
        self.reloads = 0

    def _vsctl(self, *args: str) -> list[str]:
        return ["ovs-vsctl", f"--db={self.cfg.ovsdb}", "--timeout=10", *args]

    def _ip(self, ns: str, *args: str) -> list[str]:
        return ["ip", *(("-n", ns) if ns else ()), *args]

    async def host_view(self) -> HostView:
        names = {ln.split()[0] for ln in (await run("ip", "netns", "list")).splitlines() if ln.strip()}
        raw = json.loads(await run(*self._vsctl("--format=json", "--", "--columns=name,external_ids", "find",
                                                "Interface", f"external_ids:{OWNER_KEY}={OWNER_VALUE}")))
        ovs = {}
        for name, ext in raw.get("data", []):
            ids = dict(ext[1]) if isinstance(ext, list) else {}
            ovs[name] = ids.get(LB_KEY, "")
        return HostView(names, ovs)

    # --- observe
    def pid(self, lb_id: str) -> int | None:
        """Our HAProxy's pid, only if /proc says it runs our config."""
        path = os.path.join(self.cfg.dir(lb_id), "haproxy.pid")
        try:
            pid = int(open(path).read().split()[0])
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
        except (OSError, ValueError, IndexError):
            return None
        return pid if self.config_path(lb_id) in cmd else None

    def config_path(self, lb_id: str) -> str:
        return os.path.join(self.cfg.dir(lb_id), "haproxy.cfg")

    async def observe(self, lb_id: str, host: HostView) -> P.Seen:
        ns = self.cfg.netns(lb_id)
        ovs_name = next((n for n, lb in host.ovs.items() if lb == lb_id), "")
        try:
            config = open(self.config_path(lb_id)).read()
        except OSError:
            config = None
        base = dict(lb_id=lb_id, ovs_port=bool(ovs_name), ovs_name=ovs_name, config=config,
                    running=self.pid(lb_id) is not None, dir_exists=os.path.isdir(self.cfg.dir(lb_id)))
        if ns not in host.netns:
            return P.Seen(**base)
        links = json.loads(await run(*self._ip(ns, "-j", "addr", "show")) or "[]")
        link = next((li for li in links if li["ifname"] == ovs_name), None) if ovs_name else None
        routes = json.loads(await run(*self._ip(ns, "-j", "route", "show", "default")) or "[]")
        gw = next((r.get("gateway", "") for r in routes), "")
        if link is None:
            return P.Seen(**base, netns_exists=True, gateway=gw)
        cidrs = frozenset(f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])
                          if a.get("family") == "inet" or (a.get("family") == "inet6" and a.get("scope") == "global"))
        return P.Seen(**base, netns_exists=True, link_in_ns=True, mac=link.get("address", ""),
                      mtu=link.get("mtu", 0), up="UP" in link.get("flags", []), cidrs=cidrs, gateway=gw)

    # --- apply
    async def apply(self, ops: list[P.Op]) -> None:
        for op in ops:
            await self._one(op)
            self.writes += 1

    async def _one(self, op: P.Op) -> None:
        ns = self.cfg.netns(op.lb_id)
        match op:
            case P.AddNetns():
                await run("ip", "netns", "add", ns)
                await run(*self._ip(ns, "link", "set", "lo", "up"))
            case P.AddVipPort(name=n, port_id=pid, mac=mac):
                await run(*self._vsctl("--may-exist", "add-port", self.cfg.integration_bridge, n, "--", "set",
                                       "Interface", n, "type=internal", f"external_ids:iface-id={pid}",
                                       f"external_ids:attached-mac={mac}", "external_ids:iface-status=active",
                                       f"external_ids:{OWNER_KEY}={OWNER_VALUE}", f"external_ids:{LB_KEY}={op.lb_id}"))
            case P.MoveVip(name=n):
                await self._move(n, ns)
            case P.SetVipLink(name=n, mac=mac, mtu=mtu):
                await run(*self._ip(ns, "link", "set", "dev", n, "address", mac, "mtu", str(mtu), "up"))
                await run("ip", "netns", "exec", ns, "ethtool", "-K", n, "tx", "off", check=False)
            case P.AddAddr(name=n, cidr=c):
                await run(*self._ip(ns, "addr", "replace", c, "dev", n))
            case P.DelAddr(name=n, cidr=c):
                await run(*self._ip(ns, "addr", "del", c, "dev", n), check=False)
            case P.SetGateway(gateway=gw):
                await run(*self._ip(ns, "route", "replace", "default", "via", gw))
            case P.WriteConfig(text=t):
                await self._write_config(op.lb_id, t)
            case P.StartHaproxy():
                await run("ip", "netns", "exec", ns, self.cfg.haproxy, "-f", self.config_path(op.lb_id), "-D")
            case P.ReloadHaproxy():
                await self._reload(op.lb_id, ns)
            case P.StopHaproxy():
                self._signal(self.pid(op.lb_id), signal.SIGTERM)
            case P.DelVipPort(name=n):
                await run(*self._vsctl("--if-exists", "del-port", self.cfg.integration_bridge, n))
            case P.DelNetns():
                await self._delete_netns(ns)
            case P.RemoveDir():
                shutil.rmtree(self.cfg.dir(op.lb_id), ignore_errors=True)

    async def _write_config(self, lb_id: str, text: str) -> None:
        os.makedirs(self.cfg.dir(lb_id), exist_ok=True)
        path = self.config_path(lb_id)
        with open(path + ".new", "w") as f:
            f.write(text)
        try:
            await run(self.cfg.haproxy, "-c", "-q", "-f", path + ".new")
        except CommandError as exc:
            os.unlink(path + ".new")
            raise CommandError(f"haproxy rejected the configuration: {exc}") from None
        os.replace(path + ".new", path)

    async def _reload(self, lb_id: str, ns: str) -> None:
        old = self.pid(lb_id)
        cmd = ["ip", "netns", "exec", ns, self.cfg.haproxy, "-f", self.config_path(lb_id), "-D"]
        await run(*cmd, *(["-sf", str(old)] if old else []))
        self.reloads += 1

    def _signal(self, pid: int | None, sig: int) -> None:
        if pid:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    async def _delete_netns(self, ns: str) -> None:
        if self.cfg.lb_of_netns(ns) is None:
            return      # never delete a namespace that is not ours
        pids = (await run("ip", "netns", "pids", ns, check=False)).split()
        for pid in pids:        # draining HAProxies of this LB: the namespace is ours
            self._signal(int(pid), signal.SIGKILL)
        await run("ip", "netns", "delete", ns)

    async def _move(self, name: str, ns: str) -> None:
        host = self.cfg.host_netns
        for _ in range(100):
            proc = await asyncio.create_subprocess_exec(*self._ip(host, "link", "show", "dev", name),
                                                        stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.DEVNULL)
            if await proc.wait() == 0:
                await run(*self._ip(host, "link", "set", "dev", name, "netns", ns))
                return
            await asyncio.sleep(0.02)
        raise CommandError(f"internal port {name} did not appear in namespace {host or '(ours)'}")

    async def show_stat(self, lb_id: str) -> str:
        """``show stat`` on the runtime socket ("" if HAProxy does not answer)."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(os.path.join(self.cfg.dir(lb_id), "haproxy.sock")), 2)
        except (OSError, asyncio.TimeoutError):
            return ""
        try:
            writer.write(b"show stat\n")
            await writer.drain()
            return (await asyncio.wait_for(reader.read(), 3)).decode(errors="replace")
        except (OSError, asyncio.TimeoutError):
            return ""
        finally:
            writer.close()
