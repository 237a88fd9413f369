"""Simulated hypervisors: N host namespaces with private OVS, joined by an underlay.

Layout for run prefix ``P`` (``nlt`` + 6 hex, unique per run):

- ``P-ul``: the underlay namespace. Linux bridge ``br-ul`` (tunnel underlay,
  10.250.0.0/24, MTU 1600) and, if asked, ``br-px`` (the wire of physical network
  ``physnet1`` for flat/vlan networks).
- ``P-h<i>``: one namespace per host, with its own ovsdb-server/ovs-vswitchd (run dir
  under a temp dir), ``br-phy`` holding the tunnel endpoint IP (OVS userspace
  tunnelling needs it on an OVS bridge) and the underlay veth ``ul0``; with a
  physnet also ``br-ex`` holding ``px0``.
- With ``ovs=False`` (Linux bridge hosts) no OVS daemons run: the tunnel endpoint IP
  sits on ``ul0`` itself, the physnet wire ``px0`` is the mapped interface
  (``physnet1:px0``) and bridge-nf-call-iptables is 0 in the host namespace.

Nothing is created in the root namespace: veths are created directly inside the
target namespaces. ``down()`` kills processes left in our namespaces by pid, stops
the OVS daemons by pid and deletes the namespaces (which deletes their links).
Use ``Cluster`` as a context manager, or ``python -m netledger.deploy.hosts up|down``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field

from netledger.deploy.ovs import OvsNode, _run

UNDERLAY_NET = "10.250.0"
UNDERLAY_MTU = 1600
PHYSNET = "physnet1"


@dataclass
class SimHost:
    name: str            # host name as the agent and intents know it (== its netns)
    netns: str
    tunnel_ip: str
    rundir: str
    bridge_mappings: dict[str, str] = field(default_factory=dict)
    vswitchd_args: tuple[str, ...] = ()
    has_ovs: bool = True

    @property
    def ovs(self) -> OvsNode:
        return OvsNode(self.name, self.netns, self.rundir, tuple(self.vswitchd_args))

    @property
    def ovsdb(self) -> str:
        return self.ovs.db


def ns_exists(name: str) -> bool:
    return name in _run(["ip", "netns", "list"]).split()


def ns_add(name: str) -> None:
    _run(["ip", "netns", "add", name])
    _run(["ip", "-n", name, "link", "set", "lo", "up"])


def ns_pids(name: str) -> list[int]:
    proc = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
    return [int(p) for p in proc.stdout.split()]


def ns_delete(name: str) -> None:
    """Kill what still runs inside (only our namespaces hold it), then delete."""
    if not ns_exists(name):
        return
    for pid in ns_pids(name):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def sh_ns(ns: str, *cmd: str) -> str:
    return _run(["ip", "netns", "exec", ns, *cmd])


@dataclass
class Cluster:
    """N simulated hosts; ``up()``/``down()`` or ``with Cluster(2) as c:``."""

    count: int = 2
    physnet: bool = True
    prefix: str = field(default_factory=lambda: "nlt" + secrets.token_hex(3))
    workdir: str = ""
    hosts: list[SimHost] = field(default_factory=list)
    vswitchd_args: tuple[str, ...] = ()
    ovs: bool = True                 # False: Linux bridge hosts (no OVS daemons)

    @property
    def underlay_ns(self) -> str:
        return f"{self.prefix}-ul"

    def __enter__(self) -> "Cluster":
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    def up(self) -> None:
        self.workdir = self.workdir or tempfile.mkdtemp(prefix=f"{self.prefix}-")
        ns_add(self.underlay_ns)
        ul = self.underlay_ns
        sh_ns(ul, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0")
        for br in ("br-ul", "br-px") if self.physnet else ("br-ul",):
            _run(["ip", "-n", ul, "link", "add", br, "mtu", str(UNDERLAY_MTU), "type", "bridge"])
            _run(["ip", "-n", ul, "link", "set", br, "up"])
        for i in range(1, self.count + 1):
            self.hosts.append(self._add_host(i))

    def _add_host(self, i: int) -> SimHost:
        ns = f"{self.prefix}-h{i}"
        host = SimHost(name=ns, netns=ns, tunnel_ip=f"{UNDERLAY_NET}.{10 + i}",
                       rundir=os.path.join(self.workdir, f"h{i}"), vswitchd_args=self.vswitchd_args,
                       has_ovs=self.ovs)
        ns_add(ns)
        if not self.ovs:
            return self._add_kernel_host(host, i)
        host.ovs.start()
        self._wire(ns, "ul0", f"h{i}-ul", "br-ul")
        ovs = host.ovs
        ovs.vsctl("add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=netdev",
                  "--", "add-port", "br-phy", "ul0")
        _run(["ip", "-n", ns, "link", "set", "br-phy", "mtu", str(UNDERLAY_MTU), "up"])
        _run(["ip", "-n", ns, "addr", "add", f"{host.tunnel_ip}/24", "dev", "br-phy"])
        if self.physnet:
            self._wire(ns, "px0", f"h{i}-px", "br-px")
            ovs.vsctl("add-br", "br-ex", "--", "set", "bridge", "br-ex", "datapath_type=netdev",
                      "--", "add-port", "br-ex", "px0")
            host.bridge_mappings = {PHYSNET: "br-ex"}
        return host

    def _add_kernel_host(self, host: SimHost, i: int) -> SimHost:
        ns = host.netns
        # bridges here must not hand frames to iptables unless SGs filter on purpose
        sh_ns(ns, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0")
        self._wire(ns, "ul0", f"h{i}-ul", "br-ul")
        _run(["ip", "-n", ns, "addr", "add", f"{host.tunnel_ip}/24", "dev", "ul0"])
        if self.physnet:
            self._wire(ns, "px0", f"h{i}-px", "br-px")
            host.bridge_mappings = {PHYSNET: "px0"}
        return host

    def _wire(self, ns: str, inside: str, outside: str, bridge: str) -> None:
        ul = self.underlay_ns
        _run(["ip", "link", "add", inside, "netns", ns, "mtu", str(UNDERLAY_MTU), "type", "veth",
              "peer", "name", outside, "netns", ul, "mtu", str(UNDERLAY_MTU)])
        _run(["ip", "-n", ns, "link", "set", inside, "up"])
        _run(["ip", "-n", ul, "link", "set", outside, "master", bridge, "up"])

    def down(self) -> None:
        """Best effort, in order: our daemons by pid, our namespaces, our temp dir."""
        for host in self.hosts:
            try:
                if host.has_ovs:
                    host.ovs.stop()
            except Exception:  # noqa: BLE001 - teardown must go on
                pass
        for ns in [h.netns for h in self.hosts] + [self.underlay_ns]:
            ns_delete(ns)
        # namespaces named after this run (instances created by tests) go too
        for ns in _run(["ip", "netns", "list"]).split():
            if ns.startswith(self.prefix + "-"):
                ns_delete(ns)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.hosts = []

    def to_json(self) -> str:
        return json.dumps({"prefix": self.prefix, "workdir": self.workdir, "physnet": self.physnet,
                           "ovs": self.ovs, "hosts": [asdict(h) for h in self.hosts]}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Cluster":
        raw = json.loads(text)
        hosts = [SimHost(**h) for h in raw["hosts"]]
        return cls(count=len(hosts), physnet=raw["physnet"], prefix=raw["prefix"],
                   workdir=raw["workdir"], hosts=hosts, ovs=raw.get("ovs", True))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="netledger-hosts", description="simulated hosts up/down")
    ap.add_argument("action", choices=["up", "down"])
    ap.add_argument("--count", type=int, default=2)
    ap.add_argument("--no-physnet", action="store_true")
    ap.add_argument("--no-ovs", action="store_true", help="Linux bridge hosts: no OVS daemons")
    ap.add_argument("--state", default="/tmp/netledger-hosts.json")
    args = ap.parse_args(argv)
    if args.action == "up":
        cluster = Cluster(count=args.count, physnet=not args.no_physnet, ovs=not args.no_ovs)
        try:
            cluster.up()
        except BaseException:
            cluster.down()
            raise
        with open(args.state, "w") as fh:
            fh.write(cluster.to_json())
        print(cluster.to_json())
    else:
        with open(args.state) as fh:
            Cluster.from_json(fh.read()).down()
        os.unlink(args.state)


if __name__ == "__main__":
    main()
