"""A policy file overrides Neutron's default rules (YAML, rule name -> check string)."""

from __future__ import annotations

import os
import tempfile

import pytest

from tests.integration.test_api_support import neutron_error
from tests.support import Client, destroy_stack, start_stack

POLICY = """
"create_network": "role:admin"
"get_port": "rule:admin_only"
"create_subnet": "rule:admin_or_project_member and not field:subnets:enable_dhcp=False"
"""


@pytest.fixture(scope="module")
def strict_stack(nats_server):
    fd, path = tempfile.mkstemp(suffix=".yaml")
    with os.fdopen(fd, "w") as fh:
        fh.write(POLICY)
    s = start_stack(nats_server, extra_env={"NETLEDGER_POLICY_FILE": path})
    try:
        yield s
    finally:
        destroy_stack(s)
        os.unlink(path)


def test_overrides_apply_and_other_rules_keep_their_defaults(strict_stack):
    admin = strict_stack.api
    member = Client(admin.base, {"X-Project-Id": "polp1", "X-Roles": "member"})
    neutron_error(*member.post("/v2.0/networks", {"network": {"name": "x"}}), 403, "PolicyNotAuthorized")
    net = admin.create("network", name="by-admin", project_id="polp1")
    assert member.get(f"/v2.0/networks/{net['id']}")[0] == 200          # default get_network
    neutron_error(*member.post("/v2.0/subnets", {"subnet": {"network_id": net["id"], "cidr": "10.70.0.0/24",
                                                            "ip_version": 4, "enable_dhcp": False}}), 403)
    sub = member.create("subnet", network_id=net["id"], cidr="10.70.0.0/24", ip_version=4)
    status, body = member.post("/v2.0/ports", {"port": {"network_id": net["id"]}})
    assert status == 201
    port = body["port"]
    neutron_error(*member.get(f"/v2.0/ports/{port['id']}"), 403, "PolicyNotAuthorized")
    assert admin.get(f"/v2.0/ports/{port['id']}")[0] == 200
    assert member.delete(f"/v2.0/ports/{port['id']}")[0] == 204
    assert member.delete(f"/v2.0/subnets/{sub['id']}")[0] == 204


LOOSE = """
"create_network:shared": "rule:admin_or_project_member"
"get_port:binding:host_id": "rule:admin_or_project_member"
"""


@pytest.fixture(scope="module")
def loose_stack(nats_server):
    fd, path = tempfile.mkstemp(suffix=".yaml")
    with os.fdopen(fd, "w") as fh:
        fh.write(LOOSE)
    s = start_stack(nats_server, extra_env={"NETLEDGER_POLICY_FILE": path})
    try:
        yield s
    finally:
        destroy_stack(s)
        os.unlink(path)


def test_policy_file_loosens_checks_that_once_were_hard_coded_admin_checks(loose_stack):
    """create_network:shared and get_port:binding:host_id used to be decided by
    is_admin in the handlers; now the policy file decides, in both directions."""
    member = Client(loose_stack.api.base, {"X-Project-Id": "loosep1", "X-Roles": "member"})
    status, body = member.post("/v2.0/networks", {"network": {"name": "s", "shared": True}})
    assert status == 201 and body["network"]["shared"] is True
    # Bulk items go through the same rule.
    status, body = member.post("/v2.0/networks", {"networks": [{"name": "b", "shared": True}]})
    assert status == 201 and body["networks"][0]["shared"] is True
    status, body = member.post("/v2.0/ports", {"port": {"network_id": body["networks"][0]["id"]}})
    assert status == 201 and body["port"]["binding:host_id"] == ""
    status, body = member.get(f"/v2.0/ports/{body['port']['id']}")
    assert status == 200 and "binding:host_id" in body["port"]
    assert "binding:vif_type" not in body["port"]        # still admin-only by default
    # Rules the file does not name keep Neutron's defaults.
    neutron_error(*member.post("/v2.0/networks", {"network": {"name": "x", "router:external": True}}), 403,
                  "PolicyNotAuthorized")
