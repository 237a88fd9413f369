"""A fake DHCP host: namespace, port, files and processes as the driver would leave
them after each op (independently of ``plan.after``), with counters of restarts,
reloads and released leases."""

from __future__ import annotations

from netledger.services.dhcp import plan as P


class DhcpHostFake:
    """A host as the driver would leave it: what each op does, independently of plan.after."""

    def __init__(self) -> None:
        self.o = P.Observed()
        self.next_pid = 100
        self.restarts = 0
        self.reloads = 0
        self.released: list[tuple[str, str]] = []

    def apply(self, ops: list[P.Op]) -> None:
        for op in ops:
            self.o = self._one(op, self.o)

    def _one(self, op, o: P.Observed) -> P.Observed:
        fields = {f: getattr(o, f) for f in o.__struct_fields__}
        if isinstance(op, P.CreateNetns):
            fields["netns"] = True
        elif isinstance(op, P.PlugPort):
            fields.update(interface=op.interface, ovs_port=True, link=True, mac=op.mac, mtu=op.mtu, up=True)
        elif isinstance(op, P.UnplugPort):
            fields.update(interface="", ovs_port=False, link=False, mac="", mtu=0, up=False, addrs=frozenset())
        elif isinstance(op, P.AddAddr):
            fields["addrs"] = o.addrs | {op.cidr}
        elif isinstance(op, P.DelAddr):
            fields["addrs"] = o.addrs - {op.cidr}
        elif isinstance(op, P.WriteFile):
            fields.update(dir=True, files={**o.files, op.path: op.text})
        elif isinstance(op, P.StartProcess):
            self.next_pid += 1
            self.restarts += op.name == "dnsmasq"
            fields[op.name] = P.Proc(pid=self.next_pid, argv=op.argv)
        elif isinstance(op, P.StopProcess):
            running = getattr(o, op.name)
            if running is not None and running.pid == op.pid:    # a gone pid: nothing (as the driver)
                fields[op.name] = None
        elif isinstance(op, P.ReloadDnsmasq):
            assert o.dnsmasq and o.dnsmasq.pid == op.pid
            self.reloads += 1
        elif isinstance(op, P.ReleaseLease):
            self.released.append((op.mac, op.ip))
        elif isinstance(op, P.DeleteNetns):
            fields.update(netns=False, interface="", ovs_port=False, link=False, addrs=frozenset())
        elif isinstance(op, P.RemoveDir):
            fields.update(dir=False, files={})
        return P.Observed(**fields)


def apply(o: P.Observed, ops: list[P.Op]) -> P.Observed:
    """The harness's form: a host in state ``o`` after ``ops``."""
    h = DhcpHostFake()
    h.o = o
    h.apply(ops)
    return h.o
