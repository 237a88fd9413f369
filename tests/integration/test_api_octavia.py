"""The Octavia v2 API without an LB worker: shapes, the VIP as a real port, PENDING
writes refused with 409, Octavia's error body, cascade delete of the VIP port."""

from __future__ import annotations


def test_loadbalancer_lifecycle_without_worker(api, network, subnet):
    status, body = api.post("/v2/lbaas/loadbalancers", {"loadbalancer": {"name": "lb1", "vip_subnet_id": subnet["id"]}})
    assert status == 201, body
    lb = body["loadbalancer"]
    assert lb["provisioning_status"] == "PENDING_CREATE" and lb["operating_status"] == "OFFLINE"
    assert lb["vip_subnet_id"] == subnet["id"] and lb["vip_network_id"] == network["id"]
    port = api.get(f"/v2.0/ports/{lb['vip_port_id']}")[1]["port"]
    assert port["fixed_ips"][0]["ip_address"] == lb["vip_address"] and port["device_owner"] == "Octavia"

    status, err = api.post("/v2/lbaas/listeners", {"listener": {"loadbalancer_id": lb["id"], "protocol": "HTTP",
                                                                "protocol_port": 80}})
    assert status == 409 and err["faultcode"] == "Client" and "immutable" in err["faultstring"], err
    assert set(err) == {"faultcode", "faultstring", "debuginfo"}
    status, err = api.get("/v2/lbaas/listeners/4c2e3a7e-0000-4000-8000-000000000000")
    assert status == 404 and err["faultcode"] == "Client"
    status, err = api.post("/v2/lbaas/loadbalancers", {"loadbalancer": {"name": "x"}})
    assert status == 400 and err["faultcode"] == "Client"

    assert api.get("/v2.0/lbaas/loadbalancers")[1]["loadbalancers"][0]["id"] == lb["id"]
    tree = api.get(f"/v2/lbaas/loadbalancers/{lb['id']}/status")[1]
    assert tree["statuses"]["loadbalancer"]["listeners"] == []
    status, _ = api.delete(f"/v2/lbaas/loadbalancers/{lb['id']}")
    assert status == 409     # still PENDING_CREATE: Octavia refuses too
