"""Bad input never breaks the API: a property-based run over the served OpenAPI document
(random and hostile bodies for every create/update operation) finds no 5xx and no
response that breaks the documented shapes; classic malformed requests get Neutron 400s."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import Client

pytestmark = pytest.mark.reliability
TRIED = {"count": 0}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False),
                    st.text(max_size=40), st.sampled_from(["10.0.0.0/24", "fe80::/64", "10.0.0.1/33", "300.1.1.1",
                                                           "fa:16:3e:00:00:01", "zz:zz", str(uuid.uuid4()),
                                                           "not-a-uuid", "", "\u0000", "%s", "a" * 300]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)


def body_strategy(kind: str, props: list[str]):
    known = st.dictionaries(st.sampled_from(props), json_values, max_size=6) if props else st.just({})
    unknown = st.dictionaries(st.text(min_size=1, max_size=12), json_values, max_size=2)
    inner = st.one_of(known, st.builds(lambda a, b: {**a, **b}, known, unknown), json_values)
    return st.one_of(st.builds(lambda i: {kind: i}, inner), json_values)


def check_response(status: int, body) -> None:
    TRIED["count"] += 1
    assert status < 500, (status, body)
    if status >= 400 and status != 404:
        assert isinstance(body, dict) and "NeutronError" in body, body
        assert {"type", "message"} <= set(body["NeutronError"]), body


@pytest.fixture(scope="module")
def doc(small_stack):
    status, body = Client(small_stack.api_urls[0]).get("/openapi.json")
    assert status == 200 and body["openapi"].startswith("3.")
    return body


@pytest.fixture(scope="module")
def target(small_stack):
    api = Client(small_stack.api_urls[0])
    net = api.create("network", name="fuzz")
    sub = api.create("subnet", network_id=net["id"], cidr="10.200.0.0/24", ip_version=4)
    port = api.create("port", network_id=net["id"])
    return api, {"network": net["id"], "subnet": sub["id"], "port": port["id"]}


@pytest.mark.parametrize("kind", ["network", "subnet", "port"])
def test_fuzz_create_and_update(doc, target, kind):
    api, ids = target
    coll = f"/v2.0/{kind}s"
    create_props = list(doc["paths"][coll]["post"]["requestBody"]["content"]["application/json"]["schema"]
                        ["properties"][kind]["properties"])
    update_props = list(doc["paths"][coll + "/{id}"]["put"]["requestBody"]["content"]["application/json"]
                        ["schema"]["properties"][kind]["properties"])

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(create=body_strategy(kind, create_props), update=body_strategy(kind, update_props))
    def run(create, update):
        status, body = api.post(coll, create)
        check_response(status, body)
        if status == 201:
            created = body[kind]
            assert created["id"] and isinstance(created.get("tenant_id"), str)
            api.delete(f"{coll}/{created['id']}")
        check_response(*api.put(f"{coll}/{ids[kind]}", update))

    run()


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null", b"\xff\xfe", b'{"network": "x"}', b'{"network": {"name": 7}}',
                                 b'{"network": {"admin_state_up": "maybe"}}', b'{"networks": {}}'])
def test_malformed_network_bodies(target, raw):
    api, _ = target
    status, body = api.call("POST", "/v2.0/networks", raw=raw)
    check_response(status, body)
    assert status == 400


@pytest.mark.parametrize("subnet", [
    {"cidr": "10.0.0.0/33", "ip_version": 4}, {"cidr": "banana", "ip_version": 4},
    {"cidr": "10.0.0.0/24", "ip_version": 6}, {"cidr": "10.0.0.0/24", "ip_version": "x"},
    {"cidr": "10.0.0.0/24", "ip_version": 4, "gateway_ip": "10.0.0.300"},
    {"cidr": "10.0.0.0/24", "ip_version": 4, "allocation_pools": [{"start": "10.0.0.9", "end": "10.0.0.2"}]},
    {"cidr": "10.0.0.0/24", "ip_version": 4, "dns_nameservers": ["not-an-ip"]},
])
def test_invalid_subnets(target, subnet):
    api, ids = target
    status, body = api.post("/v2.0/subnets", {"subnet": {"network_id": ids["network"], **subnet}})
    check_response(status, body)
    assert status == 400, body


@pytest.mark.parametrize("port", [{"mac_address": "zz:zz:zz:zz:zz:zz"}, {"mac_address": "ff:ff:ff:ff:ff:ff"},
                                  {"network_id": "not-a-uuid"}, {"fixed_ips": [{"ip_address": "10.9.9.9"}]},
                                  {"fixed_ips": "x"}, {"security_groups": ["nope"]}])
def test_invalid_ports(target, port):
    api, ids = target
    status, body = api.post("/v2.0/ports", {"port": {"network_id": ids["network"], **port}})
    check_response(status, body)
    assert status in (400, 404), body


def test_huge_body_is_refused(target):
    api, _ = target
    raw = json.dumps({"network": {"name": "x", "description": "y" * (2 << 20)}}).encode()
    status, body = api.call("POST", "/v2.0/networks", raw=raw)
    assert status == 413 and body["NeutronError"]["type"] == "HTTPRequestEntityTooLarge"


def test_report_inputs_tried():
    print(f"bad-input suite: {TRIED['count']} requests checked, none answered 5xx")
