"""List semantics over HTTP: filters, fields, sorting, pagination and its links."""

from __future__ import annotations

import time
import urllib.parse
import uuid

import pytest

from tests.integration.test_api_support import neutron_error, new_project


@pytest.fixture
def proj(api):
    """A project with five networks n0..n4 (n1, n3 admin-down) and tags."""
    c = new_project(api)
    nets = [c.create("network", name=f"n{i}", admin_state_up=i % 2 == 0, description=f"d{i % 2}",
                     tags=[f"t{i}", "all"] + (["even"] if i % 2 == 0 else [])) for i in range(5)]
    return c, nets


def names(body, coll="networks") -> list[str]:
    return [r["name"] for r in body[coll]]


def test_filters_and_across_fields_or_within_one(proj):
    c, _ = proj
    assert sorted(names(c.get("/v2.0/networks?name=n1&name=n2")[1])) == ["n1", "n2"]
    assert names(c.get("/v2.0/networks?name=n1&name=n2&admin_state_up=False")[1]) == ["n1"]
    assert sorted(names(c.get("/v2.0/networks?admin_state_up=true")[1])) == ["n0", "n2", "n4"]
    assert sorted(names(c.get("/v2.0/networks?description=d1")[1])) == ["n1", "n3"]
    assert c.get("/v2.0/networks?name=nope")[1] == {"networks": []}


def test_filter_on_id_project_and_tenant(proj):
    c, nets = proj
    project = nets[0]["project_id"]
    assert len(c.get(f"/v2.0/networks?project_id={project}")[1]["networks"]) == 5
    assert len(c.get(f"/v2.0/networks?tenant_id={project}")[1]["networks"]) == 5
    assert names(c.get(f"/v2.0/networks?id={nets[3]['id']}")[1]) == ["n3"]


def test_empty_string_filter(proj):
    c, _ = proj
    c.create("network", name="")
    assert names(c.get("/v2.0/networks?name=")[1]) == [""]


def test_fields_selects_attributes(proj):
    c, nets = proj
    body = c.get("/v2.0/networks?fields=id&fields=name&name=n0")[1]
    assert body["networks"] == [{"id": nets[0]["id"], "name": "n0"}]
    body = c.get(f"/v2.0/networks/{nets[0]['id']}?fields=name&fields=revision_number")[1]
    assert set(body["network"]) == {"name", "revision_number"}


def test_sorting(proj):
    c, _ = proj
    assert names(c.get("/v2.0/networks?sort_key=name&sort_dir=desc")[1]) == ["n4", "n3", "n2", "n1", "n0"]
    body = c.get("/v2.0/networks?sort_key=admin_state_up&sort_dir=asc&sort_key=name&sort_dir=desc")[1]
    assert names(body) == ["n3", "n1", "n4", "n2", "n0"]


def _link(body, rel, coll="networks"):
    for link in body.get(f"{coll}_links", []):
        if link["rel"] == rel:
            parts = urllib.parse.urlsplit(link["href"])
            return f"{parts.path}?{parts.query}"
    return None


def test_pagination_walks_forward_and_back(proj):
    c, _ = proj
    seen, path = [], "/v2.0/networks?limit=2&sort_key=name&sort_dir=asc"
    while path:
        status, body = c.get(path)
        assert status == 200
        seen += names(body)
        path = _link(body, "next") if len(body["networks"]) == 2 else None
    assert seen == ["n0", "n1", "n2", "n3", "n4"]
    status, body = c.get(path or "/v2.0/networks?limit=2&sort_key=name&sort_dir=asc")
    first_page_next = _link(body, "next")
    status, body = c.get(first_page_next)
    assert names(body) == ["n2", "n3"]
    status, back = c.get(_link(body, "previous"))
    assert names(back) == ["n0", "n1"]


def test_page_reverse_and_marker(proj):
    c, nets = proj
    by_name = {n["name"]: n for n in nets}
    status, body = c.get(f"/v2.0/networks?limit=2&sort_key=name&sort_dir=asc&marker={by_name['n3']['id']}"
                         "&page_reverse=True")
    assert names(body) == ["n1", "n2"]
    status, body = c.get(f"/v2.0/networks?limit=10&sort_key=name&sort_dir=asc&marker={by_name['n3']['id']}")
    assert names(body) == ["n4"]
    assert _link(body, "next") is None and _link(body, "previous") is not None


def test_unknown_marker_is_404(proj):
    c, _ = proj
    neutron_error(*c.get(f"/v2.0/networks?limit=2&marker={uuid.uuid4()}"), 404, "NetworkNotFound")
    # Someone else's resource is not a marker this caller can use either.
    other = new_project(c).create("network", name="theirs")
    neutron_error(*c.get(f"/v2.0/networks?limit=2&marker={other['id']}"), 404)


def test_tag_filters(proj):
    c, _ = proj
    assert sorted(names(c.get("/v2.0/networks?tags=even,all")[1])) == ["n0", "n2", "n4"]
    assert sorted(names(c.get("/v2.0/networks?tags=even&tags=t2")[1])) == ["n2"]
    assert sorted(names(c.get("/v2.0/networks?tags-any=t1,t3")[1])) == ["n1", "n3"]
    assert sorted(names(c.get("/v2.0/networks?not-tags=even,t0")[1])) == ["n1", "n2", "n3", "n4"]
    assert sorted(names(c.get("/v2.0/networks?not-tags-any=t1,even")[1])) == ["n3"]


def test_changed_since(proj):
    c, nets = proj
    time.sleep(1.1)  # timestamps have second precision
    cutoff = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    c.put(f"/v2.0/networks/{nets[2]['id']}", {"network": {"description": "touched"}})
    assert names(c.get(f"/v2.0/networks?changed_since={cutoff}")[1]) == ["n2"]


def test_port_filters(api):
    c = new_project(api)
    net = c.create("network", name="pf")
    s1 = c.create("subnet", network_id=net["id"], cidr="10.7.1.0/24", ip_version=4)
    s2 = c.create("subnet", network_id=net["id"], cidr="10.7.2.0/24", ip_version=4)
    a = c.create("port", network_id=net["id"], name="a", device_id="vm-1", device_owner="compute:nova",
                 fixed_ips=[{"subnet_id": s1["id"], "ip_address": "10.7.1.10"}])
    b = c.create("port", network_id=net["id"], name="b", device_id="vm-2",
                 fixed_ips=[{"subnet_id": s2["id"], "ip_address": "10.7.2.10"}])
    q = "/v2.0/ports?network_id=" + net["id"]
    assert names(c.get(q + "&device_id=vm-1")[1], "ports") == ["a"]
    assert names(c.get(q + "&device_owner=compute:nova")[1], "ports") == ["a"]
    assert names(c.get(q + "&fixed_ips=ip_address%3D10.7.2.10")[1], "ports") == ["b"]
    assert names(c.get(q + f"&fixed_ips=subnet_id%3D{s1['id']}")[1], "ports") == ["a"]
    assert sorted(names(c.get(q + "&fixed_ips=ip_address_substr%3D.10")[1], "ports")) == ["a", "b"]
    assert names(c.get(q + f"&mac_address={b['mac_address'].upper()}")[1], "ports") == ["b"]
    assert names(c.get(q + "&status=DOWN&admin_state_up=True&name=b")[1], "ports") == ["b"]
    assert len(c.get(f"/v2.0/subnets?network_id={net['id']}&ip_version=4")[1]["subnets"]) == 2
    assert names(c.get(f"/v2.0/subnets?cidr=10.7.2.0/24&network_id={net['id']}")[1], "subnets") == [""]
    assert a["id"] != b["id"]
