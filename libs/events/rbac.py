"""Facts about RBAC policies (Neutron's ``rbac-policies``): sharing a network.

Subject: ``<prefix>.evt.net.<network>.rbac.<policy>`` - under the network's subject
tree, so a port create on the network (which expects the tree unchanged) cannot land
on a share that was revoked meanwhile. The wildcard ``access_as_shared`` policy is
the network's own ``shared`` flag (NetworkUpdated), as Neutron presents it.
"""

from __future__ import annotations

from .base import Event


class RbacPolicyCreated(Event, tag="RbacPolicyCreated", frozen=True, kw_only=True):
    policy_id: str
    project_id: str
    object_type: str = "network"
    object_id: str
    action: str                 # access_as_shared | access_as_external
    target_tenant: str          # a project id or "*"


class RbacPolicyUpdated(Event, tag="RbacPolicyUpdated", frozen=True, kw_only=True):
    policy_id: str
    object_id: str
    target_tenant: str


class RbacPolicyDeleted(Event, tag="RbacPolicyDeleted", frozen=True, kw_only=True):
    policy_id: str
    object_id: str


EVENTS = (RbacPolicyCreated, RbacPolicyUpdated, RbacPolicyDeleted)
