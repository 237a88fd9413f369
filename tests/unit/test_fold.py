"""The projection fold is deterministic: any batching of the same events gives the same rows."""

from __future__ import annotations

import random
import sqlite3

from netledger.libs.events import codec
from netledger.libs.events.claims import IpClaimed, IpReleased, MacClaimed
from netledger.libs.events.envelope import wrap
from netledger.libs.events.network import NetworkCreated, NetworkDeleted, NetworkUpdated, TagsChanged
from netledger.libs.events.port import FixedIp, PortCreated, PortDeleted, PortUpdated
from netledger.libs.events.subnet import SubnetCreated, SubnetDeleted
from netledger.services.topology import store
from netledger.services.topology.runner import Folder


def history(rng: random.Random, n: int) -> list[bytes]:
    out, nets, ports = [], [], []
    for i in range(n):
        t = f"2026-01-01T00:00:{i % 60:02d}Z"
        roll = rng.random()
        if roll < 0.15 or not nets:
            net = f"n{i}"
            nets.append(net)
            out.append(wrap(NetworkCreated(network_id=net, project_id="p"), kind="network", aggregate_id=net, time=t))
            out.append(wrap(SubnetCreated(subnet_id=f"s{i}", network_id=net, project_id="p", cidr="10.0.0.0/24",
                                          ip_version=4), kind="subnet", aggregate_id=f"s{i}", time=t))
        elif roll < 0.5:
            pid, net = f"p{i}", rng.choice(nets)
            ports.append((pid, net))
            out.append(wrap(MacClaimed(network_id=net, mac_address=f"m{i}", owner=pid), kind="claim",
                            aggregate_id=pid, time=t))
            out.append(wrap(IpClaimed(subnet_id="s", ip_address=f"ip{i}", owner=pid), kind="claim",
                            aggregate_id=pid, time=t))
            out.append(wrap(PortCreated(port_id=pid, network_id=net, project_id="p", mac_address=f"m{i}",
                                        fixed_ips=(FixedIp(subnet_id="s", ip_address=f"ip{i}"),)),
                            kind="port", aggregate_id=pid, time=t))
        elif roll < 0.7 and ports:
            pid, _ = rng.choice(ports)
            out.append(wrap(PortUpdated(port_id=pid, name=f"x{i}"), kind="port", aggregate_id=pid, time=t))
        elif roll < 0.8 and ports:
            pid, net = ports.pop(rng.randrange(len(ports)))
            out.append(wrap(PortDeleted(port_id=pid, network_id=net), kind="port", aggregate_id=pid, time=t))
            out.append(wrap(IpReleased(subnet_id="s", ip_address=f"ip{pid[1:]}", owner=pid), kind="claim",
                            aggregate_id=pid, time=t))
        elif roll < 0.9:
            net = rng.choice(nets)
            out.append(wrap(TagsChanged(resource_id=net, tags=(f"t{i}",)), kind="network", aggregate_id=net, time=t))
            out.append(wrap(NetworkUpdated(network_id=net, name=f"r{i}"), kind="network", aggregate_id=net, time=t))
        elif len(nets) > 1:
            net = nets.pop(rng.randrange(len(nets)))
            out.append(wrap(SubnetDeleted(subnet_id="gone", network_id=net), kind="subnet", aggregate_id="gone",
                            time=t))
            out.append(wrap(NetworkDeleted(network_id=net), kind="network", aggregate_id=net, time=t))
    return [codec.encode(e) for e in out]


def fold(path: str, msgs: list[bytes], batch_sizes: list[int]) -> dict:
    db = store.open_db(path)
    store.create_schema(db)
    folder = Folder(store.Projection(db), "events", bus=None, consumer="test")
    seq, i = 0, 0
    while i < len(msgs):
        size = batch_sizes[i % len(batch_sizes)]
        items = [(seq + k + 1, m) for k, m in enumerate(msgs[i:i + size])]
        folder.fold_batch(items)
        # Re-delivery after a crash before the ack: already folded messages are skipped.
        folder.fold_batch(items)
        seq += len(items)
        i += size
    conn = sqlite3.connect(path)
    return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in store.SCHEMA}


def test_batching_and_redelivery_do_not_change_rows(tmp_path):
    msgs = history(random.Random(3), 400)
    one = fold(str(tmp_path / "a.db"), msgs, [len(msgs)])
    many = fold(str(tmp_path / "b.db"), msgs, [1, 7, 50, 3])
    assert one == many
    assert one["ports"] and one["networks"]


def test_poison_message_is_parked_and_folding_goes_on(tmp_path):
    msgs = history(random.Random(5), 50)
    msgs.insert(10, b'{"garbage": true}')
    msgs.insert(20, b"\xff not json")
    good = fold(str(tmp_path / "good.db"), [m for m in msgs if m.startswith(b'{"id"')], [1000])
    db = store.open_db(str(tmp_path / "p.db"))
    store.create_schema(db)
    folder = Folder(store.Projection(db), "events", bus=None, consumer="test")
    folder.fold_batch([(i + 1, m) for i, m in enumerate(msgs)])
    assert len(folder.parked) == 2 and folder.position == len(msgs)
    assert {r[0] for r in sqlite3.connect(str(tmp_path / "p.db")).execute("SELECT id FROM networks")} == \
        {r[0] for r in good["networks"]}


def test_contiguous_stops_at_a_hole_and_skips_what_was_folded():
    from netledger.services.topology.runner import contiguous

    items = [(3, b"a"), (4, b"b"), (5, b"c"), (7, b"e")]
    assert contiguous(items, 2) == ([(3, b"a"), (4, b"b"), (5, b"c")], True)
    assert contiguous(items, 4) == ([(5, b"c")], True)
    assert contiguous(items[:3], 2) == (items[:3], False)
    assert contiguous([(9, b"x")], 2) == ([], True)
