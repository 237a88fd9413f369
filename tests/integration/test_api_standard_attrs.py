"""Standard attributes: revision_number + If-Match, timestamps, description, tags, project ids."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from tests.integration.test_api_support import make_net, neutron_error, new_project

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
STANDARD = {"id", "name", "description", "project_id", "tenant_id", "created_at", "updated_at",
            "revision_number", "tags"}


@pytest.fixture
def trio(api):
    c = new_project(api)
    net, sub = make_net(c, "10.20.0.0/24", description="the net")
    port = c.create("port", network_id=net["id"], description="the port")
    return c, {"network": net, "subnet": sub, "port": port}


@pytest.mark.parametrize("kind", ["network", "subnet", "port"])
def test_standard_attributes_present(trio, kind):
    c, res = trio
    body = res[kind]
    assert STANDARD <= set(body)
    assert body["project_id"] == body["tenant_id"] == c.headers["X-Project-Id"]
    assert TIMESTAMP.match(body["created_at"]) and TIMESTAMP.match(body["updated_at"])
    assert isinstance(body["revision_number"], int)
    assert body["tags"] == []


@pytest.mark.parametrize("kind", ["network", "subnet", "port"])
def test_revision_bumps_and_if_match(trio, kind):
    c, res = trio
    rid, rev0 = res[kind]["id"], res[kind]["revision_number"]
    time.sleep(1.05)
    status, body = c.put(f"/v2.0/{kind}s/{rid}", {kind: {"description": "changed"}},
                         headers={"If-Match": f"revision_number={rev0}"})
    assert status == 200, body
    assert body[kind]["revision_number"] == rev0 + 1 and body[kind]["description"] == "changed"
    assert body[kind]["updated_at"] > body[kind]["created_at"]
    # A no-op update changes nothing, not even the revision.
    status, body = c.put(f"/v2.0/{kind}s/{rid}", {kind: {"description": "changed"}})
    assert body[kind]["revision_number"] == rev0 + 1
    err = neutron_error(*c.put(f"/v2.0/{kind}s/{rid}", {kind: {"name": "stale"}},
                               headers={"If-Match": f"revision_number={rev0}"}), 412)
    assert "revision_number" in err["message"]
    assert c.get(f"/v2.0/{kind}s/{rid}")[1][kind]["name"] != "stale"
    # Any of several accepted revisions may match.
    status, _ = c.put(f"/v2.0/{kind}s/{rid}", {kind: {"name": "ok"}},
                      headers={"If-Match": f"revision_number={rev0}, revision_number={rev0 + 1}"})
    assert status == 200


def test_if_match_on_delete_and_malformed(trio):
    c, res = trio
    pid, rev = res["port"]["id"], res["port"]["revision_number"]
    neutron_error(*c.delete(f"/v2.0/ports/{pid}", headers={"If-Match": f"revision_number={rev + 5}"}), 412)
    neutron_error(*c.delete(f"/v2.0/ports/{pid}", headers={"If-Match": "etag-abc"}), 400)
    assert c.delete(f"/v2.0/ports/{pid}", headers={"If-Match": f"revision_number={rev}"})[0] == 204


def test_tags_lifecycle_bumps_revision(trio):
    c, res = trio
    for kind in ("network", "subnet", "port"):
        base = f"/v2.0/{kind}s/{res[kind]['id']}"
        rev = c.get(base)[1][kind]["revision_number"]
        status, body = c.put(base + "/tags", {"tags": ["red", "blue"]})
        assert status == 200 and sorted(body["tags"]) == ["blue", "red"]
        assert c.put(base + "/tags/green")[0] == 201
        assert c.get(base + "/tags/green")[0] == 204
        neutron_error(*c.get(base + "/tags/purple"), 404, "TagNotFound")
        status, body = c.post(base + "/tags", {"tags": ["white"]})
        assert status == 201 and sorted(body["tags"]) == ["blue", "green", "red", "white"]
        assert sorted(c.get(base + "/tags")[1]["tags"]) == ["blue", "green", "red", "white"]
        assert c.delete(base + "/tags/red")[0] == 204
        neutron_error(*c.delete(base + "/tags/red"), 404, "TagNotFound")
        shown = c.get(base)[1][kind]
        assert sorted(shown["tags"]) == ["blue", "green", "white"] and shown["revision_number"] > rev
        assert c.delete(base + "/tags")[0] == 204
        assert c.get(base + "/tags")[1] == {"tags": []}


def test_tag_validation(trio):
    c, res = trio
    base = f"/v2.0/networks/{res['network']['id']}/tags"
    neutron_error(*c.put(base, {"tags": "red"}), 400)
    neutron_error(*c.put(base, {"tag": ["red"]}), 400)
    neutron_error(*c.put(base, {"tags": ["a", "a"]}), 400)
    neutron_error(*c.put(base, {"tags": ["x" * 256]}), 400)
    neutron_error(*c.put(base, {"tags": [f"t{i}" for i in range(51)]}), 400)
    neutron_error(*c.put(f"/v2.0/networks/{uuid.uuid4()}/tags", {"tags": ["a"]}), 404)
    assert c.put(base, {"tags": ["x" * 255]})[0] == 200


def test_tags_on_create(api):
    c = new_project(api)
    net, _ = make_net(c, None, tags=["a", "b"])
    assert sorted(net["tags"]) == ["a", "b"]
    sub = c.create("subnet", network_id=net["id"], cidr="10.21.0.0/24", ip_version=4, tags=["s"])
    port = c.create("port", network_id=net["id"], tags=["p"])
    assert sub["tags"] == ["s"] and port["tags"] == ["p"]


def test_tenant_and_project_on_create(api):
    c = new_project(api)
    me = c.headers["X-Project-Id"]
    net = c.create("network", tenant_id=me)
    assert net["project_id"] == me
    neutron_error(*c.post("/v2.0/networks", {"network": {"project_id": "someone-else"}}), 400)
    neutron_error(*api.post("/v2.0/networks", {"network": {"project_id": "a", "tenant_id": "b"}}), 400)
    # An admin may create on behalf of a project.
    status, body = api.post("/v2.0/networks", {"network": {"project_id": me, "name": "for-you"}})
    assert status == 201 and body["network"]["tenant_id"] == me
    assert "for-you" in [n["name"] for n in c.get("/v2.0/networks")[1]["networks"]]


def test_description(trio):
    c, res = trio
    assert res["network"]["description"] == "the net" and res["port"]["description"] == "the port"
    neutron_error(*c.put(f"/v2.0/ports/{res['port']['id']}", {"port": {"description": "d" * 256}}), 400)
