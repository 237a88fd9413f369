"""Remote-group conjunctions on OVS: linear in ports, ids stable and collision-free."""

from __future__ import annotations

import re

from netledger.libs.events.intents import SgRuleIntent
from netledger.services.l2.sg import ovs_flows
from netledger.services.l2.sg.model import PortFilter
from netledger.services.l2.sg.ovs_flows import SgPort, conj_ids, render_sg_flows

GROUP = "11111111-1111-4111-8111-111111111111"
OTHER = "22222222-2222-4222-8222-222222222222"


def port(i: int, rules: tuple[SgRuleIntent, ...], groups: dict[str, tuple[str, ...]]) -> SgPort:
    f = PortFilter(port_id=f"{i:08x}-0000-4000-8000-000000000000", mac=f"fa:16:3e:00:{i // 256:02x}:{i % 256:02x}",
                   sources=((f"fa:16:3e:00:{i // 256:02x}:{i % 256:02x}", f"10.0.{i // 256}.{i % 256}"),),
                   rules=rules, remote_groups=groups)
    return SgPort(filter=f, name=f"tap{i}", ofport=i + 1, lvid=1)


def default_group(n: int) -> list[SgPort]:
    members = tuple(f"10.0.{i // 256}.{i % 256}" for i in range(n))
    rules = (SgRuleIntent(direction="ingress", remote_group_id=GROUP), SgRuleIntent(direction="egress"))
    return [port(i, rules, {GROUP: members}) for i in range(n)]


def test_a_group_of_ports_allowing_each_other_is_linear():
    small, large = len(render_sg_flows(default_group(20), [], set())), len(render_sg_flows(default_group(200), [], set()))
    # per port: dispatch, anti-spoofing, one clause-1 flow, one member flow; no N x N term
    assert large - small == (200 - 20) * ((large - small) // 180)
    assert (large - small) // 180 < 20


def test_one_conjunction_per_group_and_direction_shared_by_ports():
    flows = render_sg_flows(default_group(30), [], set())
    ids = {m for f in flows for m in re.findall(r"conjunction\((\d+),", f)}
    assert len(ids) == 1
    member_flows = [f for f in flows if ",2/2)" in f]
    assert len(member_flows) == 30 and all("reg5" not in f for f in member_flows)
    clause1 = [f for f in flows if ",1/2)" in f]
    assert len(clause1) == 30 and all("reg5=" in f for f in clause1)


def test_ports_with_different_rules_on_one_group_keep_their_own_protocols():
    members = ("10.0.0.0", "10.0.0.1")
    ssh = (SgRuleIntent(direction="ingress", protocol=6, port_range_min=22, port_range_max=22, remote_group_id=GROUP),)
    dns = (SgRuleIntent(direction="ingress", protocol=17, port_range_min=53, port_range_max=53, remote_group_id=GROUP),)
    flows = render_sg_flows([port(0, ssh, {GROUP: members}), port(1, dns, {GROUP: members})], [], set())
    clause1 = sorted(f for f in flows if ",1/2)" in f)
    assert any("reg5=0x1" in f and "tcp" in f and "tp_dst=22" in f for f in clause1)
    assert any("reg5=0x2" in f and "udp" in f and "tp_dst=53" in f for f in clause1)
    assert not any("reg5=0x1" in f and "udp" in f for f in clause1)


def test_ids_are_stable_and_unique_even_when_hashes_collide(monkeypatch):
    keys = {(82, GROUP, 4), (82, OTHER, 4), (72, GROUP, 6)}
    first = conj_ids(keys)
    assert first == conj_ids(set(sorted(keys, reverse=True)))
    assert len(set(first.values())) == 3
    monkeypatch.setattr(ovs_flows.zlib, "crc32", lambda data: 7)   # every key collides
    collided = conj_ids(keys)
    assert sorted(collided.values()) == [7, 8, 9] and collided == conj_ids(keys)


def test_traffic_to_an_allowed_pair_mac_enters_the_ports_ingress_pipeline():
    f = PortFilter(port_id="p", mac="fa:16:3e:00:00:01",
                   sources=(("fa:16:3e:00:00:01", "10.0.0.1"), ("fa:16:3e:00:00:99", "10.0.0.9")), rules=())
    flows = render_sg_flows([SgPort(filter=f, name="tap1", ofport=7, lvid=3)], [], {3})
    for mac in ("fa:16:3e:00:00:01", "fa:16:3e:00:00:99"):
        assert any(fl.startswith("table=73,") and f"dl_dst={mac}" in fl and "resubmit(,81)" in fl for fl in flows)
        assert any(fl.startswith("table=60,") and f"dl_dst={mac}" in fl and "resubmit(,81)" in fl for fl in flows)
