"""API response shapes against Neutron's (api-ref samples): keys and value types.

The key sets below are the attributes Neutron's api-ref shows for the extensions this
API lists in /v2.0/extensions; anything Neutron shows for an extension we do not list
(qos_policy_id, dns_name, ...) is rightly absent.
"""

from __future__ import annotations

import pytest

from tests.support import destroy_stack, start_stack

NETWORK = {
    "admin_state_up": bool, "availability_zone_hints": list, "availability_zones": list, "created_at": str,
    "description": str, "id": str, "ipv4_address_scope": type(None), "ipv6_address_scope": type(None),
    "l2_adjacency": bool, "mtu": int, "name": str, "port_security_enabled": bool, "project_id": str,
    "provider:network_type": str, "provider:physical_network": (str, type(None)),
    "provider:segmentation_id": (int, type(None)), "revision_number": int, "router:external": bool,
    "shared": bool, "status": str, "subnets": list, "tags": list, "tenant_id": str, "updated_at": str,
}
SUBNET = {
    "allocation_pools": list, "cidr": str, "created_at": str, "description": str, "dns_nameservers": list,
    "enable_dhcp": bool, "gateway_ip": (str, type(None)), "host_routes": list, "id": str, "ip_version": int,
    "ipv6_address_mode": (str, type(None)), "ipv6_ra_mode": (str, type(None)), "name": str, "network_id": str,
    "project_id": str, "revision_number": int, "service_types": list, "subnetpool_id": type(None),
    "tags": list, "tenant_id": str, "updated_at": str,
}
PORT = {
    "admin_state_up": bool, "allowed_address_pairs": list, "binding:host_id": str, "binding:profile": dict,
    "binding:vif_details": dict, "binding:vif_type": str, "binding:vnic_type": str, "created_at": str,
    "description": str, "device_id": str, "device_owner": str, "fixed_ips": list, "id": str,
    "mac_address": str, "name": str, "network_id": str, "port_security_enabled": bool, "project_id": str,
    "revision_number": int, "security_groups": list, "status": str, "tags": list, "tenant_id": str,
    "updated_at": str,
}


@pytest.fixture(scope="module")
def api(nats_server):
    s = start_stack(nats_server)
    try:
        yield s.api
    finally:
        destroy_stack(s)


def check(body: dict, shape: dict) -> None:
    missing = sorted(set(shape) - set(body))
    assert not missing, f"missing {missing}"
    for key, kind in shape.items():
        assert isinstance(body[key], kind), (key, body[key])


def test_shapes_of_create_show_list_update(api):
    net = api.create("network", name="shape")
    sub = api.create("subnet", network_id=net["id"], cidr="10.1.0.0/24", ip_version=4)
    port = api.create("port", network_id=net["id"])
    for kind, body, shape in (("network", net, NETWORK), ("subnet", sub, SUBNET), ("port", port, PORT)):
        check(body, shape)
        check(api.get(f"/v2.0/{kind}s/{body['id']}")[1][kind], shape)
        listed = api.get(f"/v2.0/{kind}s?id={body['id']}")[1]
        assert list(listed) == [f"{kind}s"]
        check(listed[f"{kind}s"][0], shape)
        check(api.put(f"/v2.0/{kind}s/{body['id']}", {kind: {"name": "x"}})[1][kind], shape)
    assert set(sub["allocation_pools"][0]) == {"start", "end"}
    assert set(port["fixed_ips"][0]) == {"subnet_id", "ip_address"}


def test_error_and_pagination_shapes(api):
    status, body = api.get("/v2.0/ports/00000000-0000-0000-0000-000000000000")
    assert status == 404 and set(body) == {"NeutronError"}
    assert set(body["NeutronError"]) == {"type", "message", "detail"}
    for i in range(3):
        api.create("network", name=f"pg{i}")
    body = api.get("/v2.0/networks?limit=2")[1]
    assert set(body) == {"networks", "networks_links"}
    assert [link["rel"] for link in body["networks_links"]] == ["next", "previous"]
    assert all(set(link) == {"rel", "href"} for link in body["networks_links"])
