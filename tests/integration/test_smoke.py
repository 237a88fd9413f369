"""End-to-end basics over real HTTP: discovery, network/subnet/port lifecycle."""


def test_versions_and_extensions(api):
    status, body = api.get("/")
    assert status == 200 and body["versions"][0]["id"] == "v2.0"
    status, body = api.get("/v2.0/extensions")
    aliases = {e["alias"] for e in body["extensions"]}
    assert {"standard-attr-tag", "binding", "provider", "pagination"} <= aliases


def test_port_lifecycle(api, network, subnet):
    port = api.create("port", network_id=network["id"], name="p1")
    assert port["fixed_ips"][0]["subnet_id"] == subnet["id"]
    assert port["status"] == "DOWN" and port["binding:vif_type"] == "unbound"
    status, body = api.get(f"/v2.0/ports/{port['id']}")
    assert status == 200 and body["port"]["mac_address"] == port["mac_address"]
    status, body = api.put(f"/v2.0/ports/{port['id']}", {"port": {"name": "renamed"}})
    assert status == 200 and body["port"]["name"] == "renamed"
    assert body["port"]["revision_number"] == port["revision_number"] + 1
    assert api.delete(f"/v2.0/ports/{port['id']}")[0] == 204
    assert api.get(f"/v2.0/ports/{port['id']}")[0] == 404
