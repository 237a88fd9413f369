"""The only module of the L3 worker that touches the host: observe and apply ops.

Tools: ``ip`` (namespaces, links, addresses, routes), ``nft`` (the router's private
table, replaced atomically), ``ovs-vsctl`` (internal ports on the integration
bridge, marked as ours), ``conntrack``. ``writes`` counts every dataplane write
(one per op, announcements excluded): a restart with nothing changed leaves it at 0.
"""

from __future__ import annotations

import asyncio
import json
import sys

import structlog

from netledger.libs.driver_host import CommandError, run

from . import ops as O
from .config import NFT_TABLE, OWNER_KEY, OWNER_VALUE, ROUTE_PROTO, ROUTER_KEY, L3Config
from .model import ObsLink, Seen
from .render_nft import parse_observed, replace_script

log = structlog.get_logger("l3.driver")

# Gratuitous ARP from inside a namespace (no arping on these hosts): a raw frame.
_GARP = r"""
import socket, sys
dev, ip = sys.argv[1], sys.argv[2]
mac = bytes.fromhex(open(f"/sys/class/net/{dev}/address").read().strip().replace(":", ""))
addr = socket.inet_aton(ip)
frame = b"\xff" * 6 + mac + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x01" + mac + addr + b"\x00" * 6 + addr
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((dev, 0))
for _ in range(2):
    s.send(frame)
"""


class HostView:
    """One observation of the host shared by every router of a batch."""

    def __init__(self, netns: set[str], host_links: set[str], ovs: dict[str, tuple[str, str]]) -> None:
        self.netns, self.host_links, self.ovs = netns, host_links, ovs   # ovs: name -> (router, iface-id)

    def routers(self, cfg: L3Config) -> set[str]:
        found = {cfg.router_of_netns(n) for n in self.netns} | {r for r, _ in self.ovs.values()}
        return {r for r in found if r}


class RouterDriver:
    def __init__(self, cfg: L3Config) -> None:
        self.cfg = cfg
        self.writes = 0

    def _ip(self, ns: str, *args: str) -> list[str]:
        return ["ip", *(("-n", ns) if ns else ()), *args]

    def _vsctl(self, *args: str) -> list[str]:
        return ["ovs-vsctl", f"--db={self.cfg.ovsdb}", "--timeout=10", *args]

    # --- observe
    async def host_view(self) -> HostView:
        names = {line.split()[0] for line in (await run("ip", "netns", "list")).splitlines() if line.strip()}
        links = {li["ifname"] for li in json.loads(await run(*self._ip(self.cfg.host_netns, "-j", "link", "show"))
                                                  or "[]")}
        raw = json.loads(await run(*self._vsctl("--format=json", "--", "--columns=name,external_ids", "find",
                                                "Interface", f"external_ids:{OWNER_KEY}={OWNER_VALUE}")))
        ovs = {}
        for name, ext in raw.get("data", []):
            ids = dict(ext[1])
            ovs[name] = (ids.get(ROUTER_KEY, ""), ids.get("iface-id", ""))
        return HostView(names, {n for n in links if n.startswith(("qr-", "qg-"))}, ovs)

    async def observe(self, router_id: str, host: HostView) -> Seen:
        ns = self.cfg.netns(router_id)
        ovs = {n: iid for n, (r, iid) in host.ovs.items() if r == router_id}
        if ns not in host.netns:
            return Seen(router_id=router_id, netns=ns, ovs_ports=ovs, in_host=frozenset(host.host_links & set(ovs)))
        addrs, routes, fwd, nft = await asyncio.gather(
            run(*self._ip(ns, "-j", "addr", "show")),
            run(*self._ip(ns, "-j", "route", "show", "table", "main", "proto", str(ROUTE_PROTO))),
            run("ip", "netns", "exec", ns, "sysctl", "-n", "net.ipv4.ip_forward"),
            run("ip", "netns", "exec", ns, "nft", "-j", "list", "table", "ip", NFT_TABLE, check=False))
        links = {}
        for li in json.loads(addrs or "[]"):
            if li["ifname"] == "lo":
                continue
            cidrs = frozenset(f"{a['local']}/{a['prefixlen']}" for a in li.get("addr_info", [])
                              if a.get("family") == "inet" and a.get("scope") != "link")
            links[li["ifname"]] = ObsLink(name=li["ifname"], mac=li.get("address", ""), mtu=li.get("mtu", 0),
                                          up="UP" in li.get("flags", []), cidrs=cidrs)
        sig, fips = parse_observed(json.loads(nft)) if nft.strip() else (None, frozenset())
        return Seen(router_id=router_id, netns=ns, netns_exists=True, links=links, ovs_ports=ovs,
                    in_host=frozenset(host.host_links & set(ovs)), routes=_routes(routes),
                    forwarding=fwd.strip() == "1", nft_signature=sig, fips=fips)

    # --- apply
    async def apply(self, ops: list[O.Op]) -> None:
        for op in ops:
            await self._one(op)
            if not isinstance(op, O.AnnounceAddr):
                self.writes += 1

    async def _one(self, op: O.Op) -> None:
        ip = self._ip
        match op:
            case O.AddNetns(netns=ns):
                await run("ip", "netns", "add", ns)
                await run(*ip(ns, "link", "set", "lo", "up"))
            case O.DelNetns(netns=ns):
                if self.cfg.router_of_netns(ns) is None:
                    raise ValueError(f"refusing to delete a namespace that is not ours: {ns}")
                await run("ip", "netns", "delete", ns)
            case O.SetForwarding(netns=ns):
                await run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
            case O.AddOvsPort():
                await self._add_ovs_port(op)
            case O.DelOvsPort(name=n):
                await run(*self._vsctl("--if-exists", "del-port", self.cfg.integration_bridge, n))
            case O.MoveLink(name=n, netns=ns):
                await self._move(n, ns)
            case O.SetLink(netns=ns, name=n, mac=mac, mtu=mtu):
                await run(*ip(ns, "link", "set", "dev", n, "address", mac, "mtu", str(mtu), "up"))
            case O.AddAddr(netns=ns, name=n, cidr=c):
                await run(*ip(ns, "addr", "replace", c, "dev", n))
            case O.DelAddr(netns=ns, name=n, cidr=c):
                await run(*ip(ns, "addr", "del", c, "dev", n))
            case O.ReplaceRoute(netns=ns, destination=d, nexthop=h):
                await run(*ip(ns, "route", "replace", d, "via", h, "proto", str(ROUTE_PROTO)))
            case O.DelRoute(netns=ns, destination=d, nexthop=h):
                await run(*ip(ns, "route", "del", d, "via", h, "proto", str(ROUTE_PROTO)), check=False)
            case O.ReplaceNft(netns=ns, text=t):
                await run("ip", "netns", "exec", ns, "nft", "-f", "-", stdin=replace_script(t))
            case O.ClearConntrack(netns=ns, address=a):
                for flag in ("--orig-dst", "--reply-dst"):     # DNATed in, SNATed out
                    await run("ip", "netns", "exec", ns, "conntrack", "-D", flag, a, check=False)
            case O.AnnounceAddr(netns=ns, name=n, address=a):
                await run("ip", "netns", "exec", ns, sys.executable, "-c", _GARP, n, a, check=False)

    async def _add_ovs_port(self, op: O.AddOvsPort) -> None:
        ext = [f"external_ids:iface-id={op.port_id}", f"external_ids:attached-mac={op.mac}",
               "external_ids:iface-status=active", f"external_ids:{OWNER_KEY}={OWNER_VALUE}",
               f"external_ids:{ROUTER_KEY}={op.router_id}"]
        await run(*self._vsctl("--may-exist", "add-port", self.cfg.integration_bridge, op.name, "--", "set",
                               "Interface", op.name, "type=internal", *ext))

    async def _move(self, name: str, ns: str) -> None:
        """vswitchd creates the internal port's device in its own namespace; if it is gone
        (its router namespace was deleted under us) the port is re-created first."""
        host = self.cfg.host_netns
        for attempt in range(2):
            for _ in range(50):
                if await _exists(self._ip(host, "link", "show", "dev", name)):
                    await run(*self._ip(host, "link", "set", "dev", name, "netns", ns))
                    return
                await asyncio.sleep(0.02)
            if attempt == 0:
                await self._recreate(name)
        raise CommandError(f"internal port {name} did not appear in namespace {host or '(ours)'}")

    async def _recreate(self, name: str) -> None:
        ext = await run(*self._vsctl("get", "Interface", name, "external_ids"))
        await run(*self._vsctl("--if-exists", "del-port", self.cfg.integration_bridge, name))
        ids = dict(kv.split("=", 1) for kv in ext.strip().strip("{}").replace('"', "").split(", ") if "=" in kv)
        await self._add_ovs_port(O.AddOvsPort(name=name, port_id=ids.get("iface-id", ""),
                                              mac=ids.get("attached-mac", ""), router_id=ids.get(ROUTER_KEY, "")))


async def _exists(cmd: list[str]) -> bool:
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)
    return await proc.wait() == 0


def _routes(text: str) -> frozenset[tuple[str, str]]:
    out = set()
    for r in json.loads(text or "[]"):
        if "gateway" in r:
            out.add(("0.0.0.0/0" if r["dst"] == "default" else r["dst"] if "/" in r["dst"] else r["dst"] + "/32",
                     r["gateway"]))
    return frozenset(out)
