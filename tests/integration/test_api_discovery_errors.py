"""Discovery documents, Neutron's error bodies and codes, and hostile input (never a 500)."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

from tests.integration.test_api_support import neutron_error, new_project

IMPLEMENTED = {
    "standard-attr-description", "standard-attr-revisions", "standard-attr-timestamp", "standard-attr-tag",
    "tag-creation", "project-id", "revision-if-match", "pagination", "sorting", "filter-validation",
    "empty-string-filtering", "ip-substring-filtering", "binding", "provider", "external-net",
    "port-security", "allowed-address-pairs", "net-mtu", "net-mtu-writable",
}


def test_versions_document(api):
    status, body = api.get("/")
    assert status == 200
    (version,) = body["versions"]
    assert version["id"] == "v2.0" and version["status"] == "CURRENT"
    assert version["links"][0]["rel"] == "self" and version["links"][0]["href"].endswith("/v2.0/")


def test_v2_root_lists_core_collections(api):
    for path in ("/v2.0", "/v2.0/"):
        status, body = api.get(path)
        assert status == 200
        assert {"networks", "subnets", "ports"} <= {r["collection"] for r in body["resources"]}
        for r in body["resources"]:
            assert r["links"][0]["href"].endswith(f"/v2.0/{r['collection']}")


def test_extensions_list_what_is_implemented(api):
    status, body = api.get("/v2.0/extensions")
    assert status == 200
    aliases = {e["alias"] for e in body["extensions"]}
    # The core set is all there; resource families (routers...) add their own aliases.
    assert IMPLEMENTED <= aliases
    # Listed once but never implemented (hints were dropped): must not be advertised.
    assert not aliases & {"network_availability_zone", "subnet-service-types", "dns-integration"}
    for ext in body["extensions"]:
        assert set(ext) == {"name", "alias", "description", "updated", "links"}
        assert api.get(f"/v2.0/extensions/{ext['alias']}")[0] == 200
    status, body = api.get("/v2.0/extensions/standard-attr-tag")
    assert status == 200 and body["extension"]["alias"] == "standard-attr-tag"
    neutron_error(*api.get("/v2.0/extensions/qos"), 404)


def test_not_found_shapes(api):
    missing = str(uuid.uuid4())
    for kind in ("network", "subnet", "port"):
        err = neutron_error(*api.get(f"/v2.0/{kind}s/{missing}"), 404, f"{kind.title()}NotFound")
        assert missing in err["message"]
        neutron_error(*api.put(f"/v2.0/{kind}s/{missing}", {kind: {"name": "x"}}), 404)
        neutron_error(*api.delete(f"/v2.0/{kind}s/{missing}"), 404)
    neutron_error(*api.get("/v2.0/networks/not-a-uuid"), 404, "NetworkNotFound")
    neutron_error(*api.get("/v2.0/no-such-collection"), 404)


def test_method_not_allowed(api):
    neutron_error(*api.call("PATCH", "/v2.0/networks"), 405)
    neutron_error(*api.call("POST", "/v2.0/networks/" + str(uuid.uuid4())), 405)


@pytest.mark.parametrize("raw", [b"{", b"not json", b"\xff\xfe", b'{"network": {"name": "x"}'])
def test_malformed_json_is_400(api, raw):
    neutron_error(*api.call("POST", "/v2.0/networks", raw=raw), 400)


@pytest.mark.parametrize("body", [[], "text", 42, None, {"netwerk": {}}, {"network": []}, {"network": "x"}])
def test_wrong_envelope_is_400(api, body):
    status, payload = api.call("POST", "/v2.0/networks", raw=json.dumps(body).encode())
    neutron_error(status, payload, 400)


def test_empty_body_is_400(api):
    neutron_error(*api.call("POST", "/v2.0/networks", raw=b""), 400)


@pytest.mark.parametrize("attrs, fragment", [
    ({"bogus": 1}, "Unrecognized attribute(s) 'bogus'"),
    ({"id": str(uuid.uuid4())}, "not allowed in POST"),
    ({"status": "DOWN"}, "not allowed in POST"),
    ({"revision_number": 3}, "not allowed in POST"),
    ({"admin_state_up": "maybe"}, "boolean"),
    ({"admin_state_up": [True]}, "boolean"),
    ({"name": 7}, "not a valid string"),
    ({"name": "x" * 256}, "exceeds maximum length"),
    ({"mtu": "big"}, "not an integer"),
    ({"mtu": 10}, "not in range"),
    ({"tags": "red"}, "not a list"),
    ({"tags": ["a", "a"]}, "Duplicate"),
    ({"availability_zone_hints": ["az1"]}, "not supported"),
])
def test_invalid_network_attributes_are_400(api, attrs, fragment):
    err = neutron_error(*api.post("/v2.0/networks", {"network": attrs}), 400)
    assert fragment in err["message"], err


def test_read_only_attribute_on_update_is_400(api, network):
    for attrs in ({"id": str(uuid.uuid4())}, {"project_id": "other"}, {"created_at": "x"}):
        err = neutron_error(*api.put(f"/v2.0/networks/{network['id']}", {"network": attrs}), 400)
        assert "read-only" in err["message"]


@pytest.mark.parametrize("attrs", [
    {"cidr": "10.0.0.0/33"}, {"cidr": "banana"}, {"cidr": "10.0.0.0/24", "ip_version": 6},
    {"cidr": "10.0.0.0/24", "ip_version": 5}, {"cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.255"},
    {"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.0.20", "end": "10.0.0.10"}]},
    {"cidr": "10.0.0.0/24", "allocation_pools": [{"start": "10.0.1.2", "end": "10.0.1.9"}]},
    {"cidr": "10.0.0.0/24", "dns_nameservers": ["not-an-ip"]},
    {"cidr": "10.0.0.0/24", "host_routes": [{"destination": "x", "nexthop": "10.0.0.1"}]},
    {"cidr": "10.0.0.0/24", "enable_dhcp": "sometimes"},
    {"cidr": "10.0.0.0/24", "service_types": ["compute:nova"]},
    {"cidr": "10.0.0.0/24", "network_id": "not-a-uuid"},
])
def test_invalid_subnets_are_400(api, network, attrs):
    body = {"network_id": network["id"], "ip_version": 4, **attrs}
    neutron_error(*api.post("/v2.0/subnets", {"subnet": body}), 400)


@pytest.mark.parametrize("attrs", [
    {"mac_address": "zz:zz:zz:zz:zz:zz"}, {"mac_address": "00:00:00:00:00:00"}, {"mac_address": 12},
    {"fixed_ips": "10.0.0.5"}, {"fixed_ips": [{"ip_address": "300.1.1.1"}]},
    {"fixed_ips": [{"subnet_id": "nope"}]}, {"network_id": "nope"},
    {"allowed_address_pairs": [{"ip_address": "bad"}]}, {"binding:profile": "x"},
    {"binding:vnic_type": "warp"}, {"security_groups": ["not-a-uuid"]},
])
def test_invalid_ports_are_400(api, network, subnet, attrs):
    body = {"network_id": network["id"], **attrs}
    neutron_error(*api.post("/v2.0/ports", {"port": body}), 400)


def test_missing_required_attribute_is_400(api):
    err = neutron_error(*api.post("/v2.0/ports", {"port": {"name": "x"}}), 400)
    assert "network_id" in err["message"]


def test_huge_body_is_413(api):
    body = json.dumps({"network": {"name": "x", "description": "y" * (2 * 1024 * 1024)}}).encode()
    req = urllib.request.Request(api.base + "/v2.0/networks", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=30)
        raise AssertionError("expected 413")
    except urllib.error.HTTPError as exc:
        assert exc.code == 413
        assert json.loads(exc.read())["NeutronError"]["type"] == "HTTPRequestEntityTooLarge"


def test_bad_list_parameters_are_400(api):
    neutron_error(*api.get("/v2.0/networks?bogus=1"), 400)
    neutron_error(*api.get("/v2.0/networks?limit=-1"), 400)
    neutron_error(*api.get("/v2.0/networks?sort_key=name"), 400)
    neutron_error(*api.get("/v2.0/networks?sort_key=name&sort_dir=sideways"), 400)
    neutron_error(*api.get("/v2.0/networks?changed_since=yesterday"), 400)
    neutron_error(*api.get("/v2.0/ports?fixed_ips=garbage"), 400)


def test_non_admin_cannot_set_admin_attributes(api):
    c = new_project(api)
    neutron_error(*c.post("/v2.0/networks", {"network": {"shared": True}}), 403, "PolicyNotAuthorized")
    neutron_error(*c.post("/v2.0/networks", {"network": {"provider:network_type": "vlan"}}), 403)
    # Explicitly sending the default is not a privileged request (Neutron's rule).
    status, body = c.post("/v2.0/networks", {"network": {"shared": False, "router:external": False}})
    assert status == 201 and body["network"]["shared"] is False
    net_id = body["network"]["id"]
    neutron_error(*c.put(f"/v2.0/networks/{net_id}", {"network": {"shared": True}}), 403)
    assert c.delete(f"/v2.0/networks/{net_id}")[0] == 204


def test_responses_carry_a_request_id(api):
    with urllib.request.urlopen(api.base + "/v2.0/networks?limit=1") as resp:
        assert resp.headers["X-Openstack-Request-Id"].startswith("req-")
        assert resp.headers["Content-Type"].startswith("application/json")
