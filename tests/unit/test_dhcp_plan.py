"""The DHCP planner: converges, re-apply is a no-op, incremental == from scratch,
and port changes never restart dnsmasq (files + SIGHUP), subnet changes do."""

from __future__ import annotations

import random

from netledger.libs.events.dhcp import DhcpHost, DhcpNetwork, DhcpSubnet
from netledger.libs.events.port import FixedIp
from netledger.services.dhcp import plan as P
from netledger.services.dhcp.config import DhcpAgentConfig
from tests.fakehost.dhcp import DhcpHostFake as FakeHost

CFG = DhcpAgentConfig(host="h1", state_dir="/state", netns_prefix="t-", python="py")
S1, S2 = "s1111111-0000-4000-8000-000000000000", "s2222222-0000-4000-8000-000000000000"
DPORT = DhcpHost(port_id="dhcp0000-0000-4000-8000-000000000000", mac_address="fa:16:3e:00:00:02",
                 fixed_ips=(FixedIp(subnet_id=S1, ip_address="10.0.0.2"),))


def host(i: int, subnet: str = S1) -> DhcpHost:
    return DhcpHost(port_id=f"p{i:07d}-0000-4000-8000-000000000000", mac_address=f"fa:16:3e:00:01:{i:02x}",
                    hostname=f"host-10-0-0-{10 + i}", revision_number=i,
                    fixed_ips=(FixedIp(subnet_id=subnet, ip_address=f"10.0.{0 if subnet == S1 else 1}.{10 + i}"),))


def net(hosts=(), subnets=(S1,), mtu=1450, dport=DPORT, dns=()) -> DhcpNetwork:
    subs = tuple(DhcpSubnet(subnet_id=s, cidr="10.0.0.0/24" if s == S1 else "10.0.1.0/24",
                            gateway_ip="10.0.0.1" if s == S1 else None, dns_nameservers=dns) for s in subnets)
    return DhcpNetwork(network_id="net1", mtu=mtu, port=dport, subnets=subs, hosts=tuple(hosts))


def layout(n: DhcpNetwork | None) -> P.Layout:
    return CFG.layout("net1", n.port.port_id if n else "")


def converge(h: FakeHost, n: DhcpNetwork | None) -> list[P.Op]:
    ops = P.plan_network(n, layout(n), h.o)
    h.apply(ops)
    assert P.plan_network(n, layout(n), h.o) == [], "converges in one pass"
    return ops


def test_fresh_host_builds_everything_in_order():
    h = FakeHost()
    ops = converge(h, net([host(1)]))
    kinds = [type(o).__name__ for o in ops]
    assert kinds[:3] == ["CreateNetns", "PlugPort", "AddAddr"]
    assert kinds.index("WriteFile") < kinds.index("StartProcess")
    assert {"10.0.0.2/24", "169.254.169.254/32"} == h.o.addrs
    assert P.loaded_ports(net([host(1)]), layout(net()), h.o) == {host(1).port_id}


def test_port_changes_reload_without_restart_and_release_old_leases():
    h = FakeHost()
    converge(h, net([host(1), host(2)]))
    starts = h.restarts
    converge(h, net([host(1), host(3)]))
    converge(h, net([host(1), host(3), host(4), host(5)]))
    assert h.restarts == starts and h.reloads == 2
    assert h.released == [(host(2).mac_address, "10.0.0.12")]


def test_dns_change_is_a_reload_subnet_and_mtu_changes_restart():
    h = FakeHost()
    converge(h, net([host(1)]))
    converge(h, net([host(1)], dns=("8.8.8.8",)))
    assert (h.restarts, h.reloads) == (1, 1)
    converge(h, net([host(1), host(2, S2)], subnets=(S1, S2)))
    assert h.restarts == 2
    converge(h, net([host(1), host(2, S2)], subnets=(S1, S2), mtu=1400))
    assert h.restarts == 3


def test_removal_stops_processes_then_deletes_everything():
    h = FakeHost()
    converge(h, net([host(1)]))
    ops = converge(h, None)
    assert [type(o).__name__ for o in ops] == ["StopProcess", "StopProcess", "UnplugPort", "DeleteNetns",
                                               "RemoveDir"]
    assert h.o == P.Observed(files={}) or (not h.o.netns and h.o.dnsmasq is None and h.o.proxy is None)


def test_a_new_dhcp_port_replaces_the_old_one():
    h = FakeHost()
    converge(h, net([host(1)]))
    other = DhcpHost(port_id="dhcp1111-0000-4000-8000-000000000000", mac_address="fa:16:3e:00:00:03",
                     fixed_ips=(FixedIp(subnet_id=S1, ip_address="10.0.0.3"),))
    ops = converge(h, net([host(1)], dport=other))
    assert isinstance(ops[0], P.UnplugPort) and ops[0].interface == "tapdhcp0000-00"
    assert h.o.interface == "tapdhcp1111-00" and "10.0.0.3/24" in h.o.addrs


def test_hand_edits_are_repaired():
    h = FakeHost()
    n = net([host(1)])
    converge(h, n)
    h.o = P.Observed(**{**{f: getattr(h.o, f) for f in h.o.__struct_fields__},
                        "addrs": frozenset({"10.9.9.9/24"}), "proxy": None,
                        "files": {**h.o.files, layout(n).paths.opts: "tampered"}})
    ops = converge(h, n)
    assert {type(o).__name__ for o in ops} == {"DelAddr", "AddAddr", "WriteFile", "ReloadDnsmasq", "StartProcess"}


def _strip_pids(o: P.Observed) -> P.Observed:
    fields = {f: getattr(o, f) for f in o.__struct_fields__}
    for name in ("dnsmasq", "proxy"):
        if fields[name]:
            fields[name] = P.Proc(pid=0, argv=fields[name].argv)
    return P.Observed(**fields)


def test_invariants_over_random_histories():
    rng = random.Random(11)
    for _ in range(40):
        h = FakeHost()
        n = None
        for _step in range(12):
            if rng.random() < 0.1:
                n = None
            else:
                subnets = (S1, S2) if rng.random() < 0.3 else (S1,)
                hosts = [host(i, rng.choice(subnets)) for i in sorted(rng.sample(range(1, 9), rng.randrange(5)))]
                n = net(hosts, subnets=subnets, mtu=rng.choice((1400, 1450)), dns=rng.choice(((), ("1.1.1.1",))))
            first = P.plan_network(n, layout(n), h.o)
            assert first == P.plan_network(n, layout(n), h.o)          # deterministic
            assert _strip_pids(P.after(n, layout(n), h.o, first)) == _strip_pids(P.after(n, layout(n), h.o, first))
            converge(h, n)                                             # converges; re-apply no-op
        scratch = FakeHost()
        converge(scratch, n)
        if n is None:
            assert not h.o.netns and not scratch.o.netns
        else:                                                          # incremental == from scratch
            assert _strip_pids(h.o) == _strip_pids(scratch.o)
            assert _strip_pids(P.after(n, layout(n), h.o, [])) == _strip_pids(h.o)
