"""FWaaS fold + views + compile: replay equals incremental, derived attributes, and the
intent a router gets (only its ports, disabled rules out, revision moves with rules)."""

from __future__ import annotations

import sqlite3

import msgspec

from netledger.libs.events import codec
from netledger.libs.events.envelope import wrap
from netledger.libs.events.fwaas import (
    FirewallGroupCreated, FirewallGroupStatusReported, FirewallGroupUpdated, FirewallPolicyCreated,
    FirewallPolicyRuleInserted, FirewallPolicyRuleRemoved, FirewallPolicyUpdated, FirewallRuleCreated,
    FirewallRuleUpdated,
)
from netledger.libs.events.port import FixedIp, PortCreated
from netledger.services.advanced.fw import rows
from netledger.services.topology import store
from netledger.services.topology.runner import Folder

T = "2026-01-01T00:00:00Z"


def ev(kind, aggregate_id, event):
    return codec.encode(wrap(event, kind=kind, aggregate_id=aggregate_id, time=T))


HISTORY = [
    ev("port", "qr1", PortCreated(port_id="qr1", network_id="n", project_id="p", mac_address="m1", device_id="R1",
                                  device_owner="network:router_interface", fixed_ips=(FixedIp(subnet_id="s",
                                                                                             ip_address="10.0.0.1"),))),
    ev("port", "qr2", PortCreated(port_id="qr2", network_id="n", project_id="p", mac_address="m2", device_id="R2",
                                  device_owner="network:router_interface", fixed_ips=())),
    ev("firewall_rule", "a", FirewallRuleCreated(rule_id="a", project_id="p", protocol="tcp", destination_port="80",
                                                 action="allow")),
    ev("firewall_rule", "b", FirewallRuleCreated(rule_id="b", project_id="p", action="deny")),
    ev("firewall_policy", "P", FirewallPolicyCreated(policy_id="P", project_id="p", firewall_rules=("a",),
                                                     audited=True)),
    ev("firewall_policy", "P", FirewallPolicyRuleInserted(policy_id="P", rule_id="b", position=0)),
    ev("firewall_policy", "P", FirewallPolicyUpdated(policy_id="P", audited=True)),
    ev("firewall_group", "G", FirewallGroupCreated(group_id="G", project_id="p", ingress_firewall_policy_id="P",
                                                   ports=("qr1", "qr2"))),
    ev("firewall_rule", "b", FirewallRuleUpdated(rule_id="b", enabled=False)),
]


def fold(path: str, msgs: list[bytes], size: int) -> sqlite3.Connection:
    db = store.open_db(path)
    store.create_schema(db)
    folder = Folder(store.Projection(db), "events", bus=None, consumer="test")
    for i in range(0, len(msgs), size):
        items = [(i + k + 1, m) for k, m in enumerate(msgs[i:i + size])]
        folder.fold_batch(items)
        folder.fold_batch(items)           # redelivery is harmless
    return sqlite3.connect(path)


def body(conn, view: str, rid: str) -> dict:
    return msgspec.json.decode(conn.execute(f"SELECT body FROM {view} WHERE id = ?", [rid]).fetchone()[0])


def test_replay_equals_incremental(tmp_path):
    one = fold(str(tmp_path / "a.db"), HISTORY, len(HISTORY))
    many = fold(str(tmp_path / "b.db"), HISTORY, 1)
    for t in ("firewall_rules", "firewall_policies", "firewall_groups", "firewall_port_marks"):
        assert one.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() == \
            many.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()


def test_views_derive_audited_policy_ids_and_status(tmp_path):
    conn = fold(str(tmp_path / "a.db"), HISTORY, 3)
    pol = body(conn, "firewall_policys_v", "P")
    assert pol["firewall_rules"] == ["b", "a"]
    assert pol["audited"] is False, "rule b changed after the policy was audited"
    assert body(conn, "firewall_rules_v", "a")["firewall_policy_id"] == ["P"]
    assert body(conn, "firewall_groups_v", "G")["status"] == "PENDING_CREATE"


def test_router_intent_has_only_its_ports_and_enabled_rules(tmp_path):
    conn = fold(str(tmp_path / "a.db"), HISTORY, 4)
    (group,) = rows.groups_for_ports(conn, ["qr1"])
    assert group.ports == ("qr1",) and group.egress is None
    assert [r.rule_id for r in group.ingress] == ["a"], "disabled rule b is not compiled"
    assert group.revision == len(HISTORY)
    assert rows.groups_for_ports(conn, ["other"]) == ()


def test_status_and_touched_routers(tmp_path):
    path = str(tmp_path / "a.db")
    conn = fold(path, HISTORY, len(HISTORY))
    rev = len(HISTORY)
    assert rows.touched_routers(conn, 0) == {"R1", "R2"}
    assert rows.touched_routers(conn, rev) == set()
    db = store.open_db(path)
    status = Folder(store.Projection(db), "status", bus=None, consumer="test")
    status.fold_batch([(1, ev("firewall_group", "G", FirewallGroupStatusReported(
        group_id="G", router_id="R1", host="h", status="ACTIVE", revision=rev)))])
    assert body(conn, "firewall_groups_v", "G")["status"] == "PENDING_UPDATE", "R2 has not reported"
    status.fold_batch([(2, ev("firewall_group", "G", FirewallGroupStatusReported(
        group_id="G", router_id="R2", host="h", status="ACTIVE", revision=rev)))])
    assert body(conn, "firewall_groups_v", "G")["status"] == "ACTIVE"
    # detaching qr2 recompiles R2 (the port mark), and R1 (the group's revision moved)
    more = HISTORY + [ev("firewall_group", "G", FirewallGroupUpdated(group_id="G", ports=("qr1",))),
                      ev("firewall_policy", "P", FirewallPolicyRuleRemoved(policy_id="P", rule_id="b"))]
    conn2 = fold(str(tmp_path / "b.db"), more, len(more))
    assert rows.touched_routers(conn2, rev) == {"R1", "R2"}
    assert body(conn2, "firewall_policys_v", "P")["firewall_rules"] == ["a"]
