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
