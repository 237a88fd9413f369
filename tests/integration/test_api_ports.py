"""Port attributes a compute orchestrator relies on: device, binding, admin state, status."""

from __future__ import annotations

import time
import uuid

from tests.integration.test_api_support import heartbeat, make_net, neutron_error, report_port_status

PORT_KEYS = {"id", "name", "description", "network_id", "project_id", "tenant_id", "mac_address",
             "admin_state_up", "status", "fixed_ips", "device_id", "device_owner", "binding:host_id",
             "binding:profile", "binding:vnic_type", "binding:vif_type", "binding:vif_details",
             "port_security_enabled", "security_groups", "allowed_address_pairs", "tags",
             "created_at", "updated_at", "revision_number"}


def _wait_status(api, pid, want, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        port = api.get(f"/v2.0/ports/{pid}")[1]["port"]
        if port["status"] == want:
            return port
        time.sleep(0.05)
    raise AssertionError(f"port {pid} never became {want}: {port['status']}")


def test_port_shape_and_defaults(api, network, subnet):
    port = api.create("port", network_id=network["id"])
    assert PORT_KEYS <= set(port)
    assert port["status"] == "DOWN" and port["admin_state_up"] is True
    assert port["device_id"] == "" and port["device_owner"] == ""
    assert port["binding:host_id"] == "" and port["binding:vif_type"] == "unbound"
    assert port["binding:vnic_type"] == "normal" and port["binding:profile"] == {}
    assert port["port_security_enabled"] is True and port["allowed_address_pairs"] == []


def test_orchestrator_binding_flow(api, stack, network, subnet):
    host = "compute-" + uuid.uuid4().hex[:6]
    port = api.create("port", network_id=network["id"], device_owner="compute:nova")
    # No live L2 worker on the host: the binding fails, as ML2 reports it.
    status, body = api.put(f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": host}})
    assert status == 200 and body["port"]["binding:vif_type"] == "binding_failed"
    heartbeat(stack, host)
    vm = str(uuid.uuid4())
    status, body = api.put(f"/v2.0/ports/{port['id']}", {"port": {
        "binding:host_id": host, "device_id": vm, "binding:profile": {"migrating_to": "x"}}})
    assert status == 200, body
    bound = body["port"]
    assert bound["binding:host_id"] == host and bound["device_id"] == vm
    assert bound["binding:profile"] == {"migrating_to": "x"}
    # binding:host_id unchanged: the binding is kept as it was.
    status, body = api.put(f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": ""}})
    status, body = api.put(f"/v2.0/ports/{port['id']}", {"port": {"binding:host_id": host}})
    assert body["port"]["binding:vif_type"] == "ovs"
    assert body["port"]["binding:vif_details"]["bridge_name"] == "br-int"
    assert body["port"]["status"] == "DOWN"  # nobody wired it yet
    neutron_error(*api.put(f"/v2.0/ports/{port['id']}", {"port": {"mac_address": "fa:16:3e:01:02:03"}}),
                  409, "PortBound")
    report_port_status(stack, port["id"], host, "ACTIVE")
    _wait_status(api, port["id"], "ACTIVE")
    # Administratively down shows DOWN whatever the dataplane says.
    api.put(f"/v2.0/ports/{port['id']}", {"port": {"admin_state_up": False}})
    assert api.get(f"/v2.0/ports/{port['id']}")[1]["port"]["status"] == "DOWN"
    api.put(f"/v2.0/ports/{port['id']}", {"port": {"admin_state_up": True}})
    assert api.get(f"/v2.0/ports/{port['id']}")[1]["port"]["status"] == "ACTIVE"
    listed = api.get(f"/v2.0/ports?device_id={vm}&binding:host_id={host}")[1]["ports"]
    assert [p["id"] for p in listed] == [port["id"]]


def test_status_from_another_host_does_not_count(api, stack, network, subnet):
    port = api.create("port", network_id=network["id"], **{"binding:host_id": "hostA"})
    report_port_status(stack, port["id"], "hostB", "ACTIVE")
    time.sleep(0.3)
    assert api.get(f"/v2.0/ports/{port['id']}")[1]["port"]["status"] == "DOWN"


def test_allowed_address_pairs_and_security(api, network, subnet):
    port = api.create("port", network_id=network["id"], port_security_enabled=False,
                      allowed_address_pairs=[{"ip_address": "10.10.0.0/28"},
                                             {"ip_address": "10.10.0.99", "mac_address": "fa:16:3e:aa:aa:aa"}])
    assert port["port_security_enabled"] is False
    assert port["allowed_address_pairs"] == [{"ip_address": "10.10.0.0/28", "mac_address": ""},
                                             {"ip_address": "10.10.0.99", "mac_address": "fa:16:3e:aa:aa:aa"}]
    status, body = api.put(f"/v2.0/ports/{port['id']}", {"port": {"allowed_address_pairs": []}})
    assert status == 200 and body["port"]["allowed_address_pairs"] == []


def test_network_shape(api):
    net, sub = make_net(api, "10.74.0.0/24", mtu=1400)
    assert net["mtu"] == 1400 and net["status"] == "ACTIVE" and net["shared"] is False
    assert net["router:external"] is False and net["provider:network_type"] == "vxlan"
    assert isinstance(net["provider:segmentation_id"], int)
    neutron_error(*api.post("/v2.0/networks", {"network": {"mtu": 9000}}), 400)
    shown = api.get(f"/v2.0/networks/{net['id']}")[1]["network"]
    assert shown["subnets"] == [sub["id"]]
    assert api.put(f"/v2.0/networks/{net['id']}", {"network": {"mtu": 1300}})[1]["network"]["mtu"] == 1300
