"""Fold of RBAC policy facts into ``rbac_policies`` (pure, replay-identical).

Every RBAC message lives under its network's subject tree, so it also moves the
network's ``tree_seq`` (which must equal JetStream's last sequence on that wildcard:
port and subnet creates expect it).
"""

from __future__ import annotations

from netledger.libs.events.envelope import Envelope
from netledger.libs.events.rbac import RbacPolicyCreated, RbacPolicyDeleted, RbacPolicyUpdated

from . import Delete, Put, Reader, Write, dumps, loads

SCHEMA = {
    "rbac_policies": ({"id": str, "project_id": str, "object_type": str, "object_id": str, "action": str,
                       "target_tenant": str, "body": str, "seq": int}, ["id"]),
}
INDEXES = {"rbac_policies": [["object_id"], ["target_tenant"], ["project_id"]]}


def policy_body(ev: RbacPolicyCreated) -> dict:
    return {"id": ev.policy_id, "project_id": ev.project_id, "tenant_id": ev.project_id,
            "object_type": ev.object_type, "object_id": ev.object_id, "action": ev.action,
            "target_tenant": ev.target_tenant}


def _row(body: dict, seq: int) -> dict:
    return {"id": body["id"], "project_id": body["project_id"], "object_type": body["object_type"],
            "object_id": body["object_id"], "action": body["action"], "target_tenant": body["target_tenant"],
            "body": dumps(body), "seq": seq}


def evolve_rbac(env: Envelope, seq: int, read: Reader) -> list[Write]:
    ev = env.event
    net = read("networks", getattr(ev, "object_id", ""))
    touch = [Put(table="networks", row={**net, "tree_seq": seq})] if net else []
    if isinstance(ev, RbacPolicyCreated):
        return [Put(table="rbac_policies", row=_row(policy_body(ev), seq)), *touch]
    cur = read("rbac_policies", env.aggregate_id)
    if cur is None:
        return touch
    if isinstance(ev, RbacPolicyDeleted):
        return [Delete(table="rbac_policies", key={"id": ev.policy_id}), *touch]
    if isinstance(ev, RbacPolicyUpdated):
        body = {**loads(cur["body"]), "target_tenant": ev.target_tenant}
        return [Put(table="rbac_policies", row=_row(body, seq)), *touch]
    return touch


FOLDS = {"rbac_policy": evolve_rbac}
