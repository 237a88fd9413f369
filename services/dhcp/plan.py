"""Desired DHCP network x what is really on the host -> ordered ops (pure).

Invariant: applying the ops and observing again plans [] (converges); planning twice
against the same observation gives the same ops; the plan depends only on (desired,
observed), never on what was desired before, so a restarted worker or a hand edit is
repaired the same way a fresh host is built.

Order: namespace, port, addresses, files, then processes: a changed command line
restarts dnsmasq; changed hosts/options only re-read them (SIGHUP); addresses whose
reservation disappeared are released (DHCPRELEASE, as Neutron's dhcp_release) so
dnsmasq can give them to the port that gets them next. Removal runs the other way.
"""

from __future__ import annotations

import ipaddress

from netledger.libs.events.base import Struct
from netledger.libs.events.dhcp import METADATA_IP, DhcpNetwork

from .render_dnsmasq import Paths, host_entries, render_argv, render_hosts, render_opts, serves_addresses
from .render_metadata import render_metadata


class Layout(Struct, frozen=True, kw_only=True):
    """Where a network lives on this host (names the worker owns)."""

    network_id: str
    netns: str
    dir: str
    interface: str
    python: str = "python3"
    backend_url: str = ""

    @property
    def paths(self) -> Paths:
        return Paths(dir=self.dir, interface=self.interface)

    @property
    def metadata_conf(self) -> str:
        return f"{self.dir}/metadata.json"

    @property
    def proxy_pid(self) -> str:
        return f"{self.dir}/proxy.pid"


class Proc(Struct, frozen=True, kw_only=True):
    pid: int
    argv: tuple[str, ...]


class Observed(Struct, frozen=True, kw_only=True):
    netns: bool = False
    dir: bool = False
    interface: str = ""                   # the name of our port found for this network
    ovs_port: bool = False                # on the integration bridge with our iface-id
    link: bool = False                    # the port's interface inside the namespace
    mac: str = ""
    mtu: int = 0
    up: bool = False
    addrs: frozenset[str] = frozenset()   # "ip/prefix", global scope only
    files: dict[str, str] = {}            # path -> text (missing files absent)
    dnsmasq: Proc | None = None
    proxy: Proc | None = None


# --- ops (the driver executes them in order)
class CreateNetns(Struct, frozen=True, kw_only=True):
    netns: str


class PlugPort(Struct, frozen=True, kw_only=True):
    netns: str
    port_id: str
    interface: str
    mac: str
    mtu: int


class AddAddr(Struct, frozen=True, kw_only=True):
    netns: str
    interface: str
    cidr: str


class DelAddr(Struct, frozen=True, kw_only=True):
    netns: str
    interface: str
    cidr: str


class WriteFile(Struct, frozen=True, kw_only=True):
    path: str
    text: str


class StartProcess(Struct, frozen=True, kw_only=True):
    name: str                 # "dnsmasq" | "proxy"
    netns: str                # run inside it ("" = here; the proxy enters it itself)
    argv: tuple[str, ...]
    pid_file: str


class StopProcess(Struct, frozen=True, kw_only=True):
    name: str
    pid: int
    marker: str               # must appear in the process's command line (ours only)


class ReloadDnsmasq(Struct, frozen=True, kw_only=True):
    pid: int
    marker: str


class ReleaseLease(Struct, frozen=True, kw_only=True):
    netns: str
    interface: str
    server_ip: str
    ip: str
    mac: str


class UnplugPort(Struct, frozen=True, kw_only=True):
    interface: str


class DeleteNetns(Struct, frozen=True, kw_only=True):
    netns: str


class RemoveDir(Struct, frozen=True, kw_only=True):
    dir: str


Op = (CreateNetns | PlugPort | AddAddr | DelAddr | WriteFile | StartProcess | StopProcess | ReloadDnsmasq
      | ReleaseLease | UnplugPort | DeleteNetns | RemoveDir)


def desired_addrs(net: DhcpNetwork) -> set[str]:
    subnets = {s.subnet_id: s for s in net.subnets}
    out = set()
    for f in net.port.fixed_ips:
        if f.subnet_id in subnets:
            out.add(f"{f.ip_address}/{ipaddress.ip_network(subnets[f.subnet_id].cidr).prefixlen}")
    if net.metadata and _has_v4(net):
        out.add(f"{METADATA_IP}/32")
    return out


def _has_v4(net: DhcpNetwork) -> bool:
    return any(s.ip_version == 4 for s in net.subnets)


def proxy_argv(lay: Layout) -> tuple[str, ...]:
    return (lay.python, "-m", "netledger.services.dhcp.metadata_proxy", "--config", lay.metadata_conf,
            "--pid-file", lay.proxy_pid, "--netns", lay.netns, "--bind", METADATA_IP, "--port", "80")


def desired_files(net: DhcpNetwork, lay: Layout) -> dict[str, str]:
    p = lay.paths
    files = {p.hosts: render_hosts(net), p.opts: render_opts(net)}
    if net.metadata and _has_v4(net):
        files[lay.metadata_conf] = render_metadata(net, lay.backend_url)
    return files


def _wire(net: DhcpNetwork, lay: Layout, o: Observed) -> list[Op]:
    ops: list[Op] = []
    if not o.netns:
        ops.append(CreateNetns(netns=lay.netns))
    if o.interface and o.interface != lay.interface:
        # Another DHCP port than before (rescheduled, re-created): the old one goes.
        ops.append(UnplugPort(interface=o.interface))
        o = Observed(netns=o.netns, dir=o.dir, files=o.files, dnsmasq=o.dnsmasq, proxy=o.proxy)
    if not (o.ovs_port and o.link and o.mac == net.port.mac_address and o.mtu == net.mtu and o.up):
        ops.append(PlugPort(netns=lay.netns, port_id=net.port.port_id, interface=lay.interface,
                            mac=net.port.mac_address, mtu=net.mtu))
    want = desired_addrs(net)
    ops += [DelAddr(netns=lay.netns, interface=lay.interface, cidr=c) for c in sorted(o.addrs - want)]
    ops += [AddAddr(netns=lay.netns, interface=lay.interface, cidr=c) for c in sorted(want - o.addrs)]
    return ops


def _releases(net: DhcpNetwork, lay: Layout, o: Observed, new_hosts: str) -> list[Op]:
    old = o.files.get(lay.paths.hosts)
    if old is None or old == new_hosts:
        return []
    gone = host_entries(old) - host_entries(new_hosts)
    server = next((f.ip_address for f in net.port.fixed_ips if ipaddress.ip_address(f.ip_address).version == 4), "")
    return [ReleaseLease(netns=lay.netns, interface=lay.interface, server_ip=server, ip=ip, mac=mac)
            for mac, ip in sorted(gone) if ip and server and ipaddress.ip_address(ip).version == 4]


def _dnsmasq(net: DhcpNetwork, lay: Layout, o: Observed, changed: bool) -> list[Op]:
    argv = tuple(render_argv(net, lay.paths))
    wanted = any(serves_addresses(s) for s in net.subnets)
    running = o.dnsmasq
    if running and (not wanted or running.argv != argv):
        return [StopProcess(name="dnsmasq", pid=running.pid, marker=lay.paths.pid)] + (
            [StartProcess(name="dnsmasq", netns=lay.netns, argv=argv, pid_file=lay.paths.pid)] if wanted else [])
    if not running:
        return [StartProcess(name="dnsmasq", netns=lay.netns, argv=argv, pid_file=lay.paths.pid)] if wanted else []
    return [ReloadDnsmasq(pid=running.pid, marker=lay.paths.pid)] if changed else []


def _proxy(net: DhcpNetwork, lay: Layout, o: Observed) -> list[Op]:
    wanted = net.metadata and _has_v4(net)
    argv = proxy_argv(lay)
    if o.proxy and (not wanted or o.proxy.argv != argv):
        stop: list[Op] = [StopProcess(name="proxy", pid=o.proxy.pid, marker=lay.proxy_pid)]
        return stop + ([StartProcess(name="proxy", netns="", argv=argv, pid_file=lay.proxy_pid)]
                       if wanted else [])
    if wanted and not o.proxy:
        return [StartProcess(name="proxy", netns="", argv=argv, pid_file=lay.proxy_pid)]
    return []


def plan_network(net: DhcpNetwork | None, lay: Layout, o: Observed) -> list[Op]:
    """Ops that take this network from ``o`` to ``net`` (None: remove everything ours)."""
    if net is None:
        return plan_removal(lay, o)
    ops = _wire(net, lay, o)
    files = desired_files(net, lay)
    writes = [WriteFile(path=p, text=t) for p, t in files.items() if o.files.get(p) != t]
    changed = any(w.path in (lay.paths.hosts, lay.paths.opts) for w in writes)
    ops += writes
    ops += _dnsmasq(net, lay, o, changed)
    ops += _releases(net, lay, o, files[lay.paths.hosts])
    ops += _proxy(net, lay, o)
    return ops


def plan_removal(lay: Layout, o: Observed) -> list[Op]:
    ops: list[Op] = []
    if o.proxy:
        ops.append(StopProcess(name="proxy", pid=o.proxy.pid, marker=lay.proxy_pid))
    if o.dnsmasq:
        ops.append(StopProcess(name="dnsmasq", pid=o.dnsmasq.pid, marker=lay.paths.pid))
    if o.interface:
        ops.append(UnplugPort(interface=o.interface))
    if o.netns:
        ops.append(DeleteNetns(netns=lay.netns))
    if o.dir:
        ops.append(RemoveDir(dir=lay.dir))
    return ops


def after(net: DhcpNetwork | None, lay: Layout, o: Observed, ops: list[Op]) -> Observed:
    """The observation a successful apply of ``ops`` leads to (for invariant tests and
    for reporting without a second observe)."""
    if net is None:
        return Observed()
    files = {**o.files, **{op.path: op.text for op in ops if isinstance(op, WriteFile)}}
    started = {op.name: Proc(pid=-1, argv=op.argv) for op in ops if isinstance(op, StartProcess)}
    stopped = {op.name for op in ops if isinstance(op, StopProcess)}

    def proc(name: str, cur: Proc | None) -> Proc | None:
        return started.get(name) or (None if name in stopped else cur)
    return Observed(netns=True, dir=True, interface=lay.interface, ovs_port=True, link=True,
                    mac=net.port.mac_address, mtu=net.mtu, up=True,
                    addrs=frozenset(desired_addrs(net)), files=files, dnsmasq=proc("dnsmasq", o.dnsmasq),
                    proxy=proc("proxy", o.proxy))


def loaded_ports(net: DhcpNetwork, lay: Layout, o: Observed) -> set[str]:
    """Ports whose DHCP entry dnsmasq has loaded: the hosts file on disk is the desired
    one and dnsmasq runs (or nothing needs serving)."""
    if o.files.get(lay.paths.hosts) != render_hosts(net):
        return set()
    if o.dnsmasq is None and any(serves_addresses(s) for s in net.subnets):
        return set()
    return {h.port_id for h in net.hosts}
