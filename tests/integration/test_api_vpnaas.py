"""VPNaaS over real HTTP: the five resources, Neutron's validation and in-use rules,
the PSK returned to its owner, and statuses before any worker reports."""

from __future__ import annotations

import pytest

VPN = "/v2.0/vpn"


@pytest.fixture
def site(api):
    """An external network, a router with a gateway and one interface subnet."""
    ext = api.create("network", name="vpn-ext", **{"router:external": True, "provider:network_type": "flat",
                                                   "provider:physical_network": "physnet1"})
    api.create("subnet", network_id=ext["id"], cidr="198.51.100.0/24", ip_version=4)
    lan = api.create("network", name="vpn-lan")
    sub = api.create("subnet", network_id=lan["id"], cidr="10.77.1.0/24", ip_version=4)
    router = api.create("router", name="vpn-r", external_gateway_info={"network_id": ext["id"]})
    assert api.put(f"/v2.0/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})[0] == 200
    made: list[str] = []
    yield {"router": router, "subnet": sub, "made": made}
    for path in reversed(made):
        api.delete(path)
    api.put(f"/v2.0/routers/{router['id']}/remove_router_interface", {"subnet_id": sub["id"]})
    api.put(f"/v2.0/routers/{router['id']}", {"router": {"external_gateway_info": {}}})
    api.delete(f"/v2.0/routers/{router['id']}")
    api.delete(f"/v2.0/networks/{lan['id']}")
    api.delete(f"/v2.0/networks/{ext['id']}")


def make(api, site, coll: str, key: str, **attrs) -> dict:
    status, body = api.post(f"{VPN}/{coll}", {key: attrs})
    assert status == 201, (status, body)
    site["made"].append(f"{VPN}/{coll}/{body[key]['id']}")
    return body[key]


def connection_parts(api, site):
    ike = make(api, site, "ikepolicies", "ikepolicy", name="ike", ike_version="v2", pfs="group14",
               encryption_algorithm="aes-256", auth_algorithm="sha256")
    ipsec = make(api, site, "ipsecpolicies", "ipsecpolicy", name="esp", pfs="group14",
                 encryption_algorithm="aes-128-gcm-16")
    svc = make(api, site, "vpnservices", "vpnservice", router_id=site["router"]["id"])
    local = make(api, site, "endpoint-groups", "endpoint_group", type="subnet", endpoints=[site["subnet"]["id"]])
    peer = make(api, site, "endpoint-groups", "endpoint_group", type="cidr", endpoints=["10.78.1.0/24"])
    return ike, ipsec, svc, local, peer


def test_defaults_and_shapes(api, site):
    ike = make(api, site, "ikepolicies", "ikepolicy", name="d")
    assert {k: ike[k] for k in ("auth_algorithm", "encryption_algorithm", "ike_version", "pfs",
                                "phase1_negotiation_mode", "lifetime")} == {
        "auth_algorithm": "sha1", "encryption_algorithm": "aes-128", "ike_version": "v1", "pfs": "group5",
        "phase1_negotiation_mode": "main", "lifetime": {"units": "seconds", "value": 3600}}
    ipsec = make(api, site, "ipsecpolicies", "ipsecpolicy", name="d")
    assert ipsec["transform_protocol"] == "esp" and ipsec["encapsulation_mode"] == "tunnel"
    svc = make(api, site, "vpnservices", "vpnservice", router_id=site["router"]["id"], name="s")
    gw = site["router"]["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    assert svc["external_v4_ip"] == gw and svc["status"] == "PENDING_CREATE" and svc["subnet_id"] is None
    assert api.get(f"{VPN}/vpnservices")[1]["vpnservices"][0]["id"] == svc["id"]
    assert api.get(f"{VPN}/ikepolicies/{ike['id']}")[1]["ikepolicy"]["name"] == "d"
    aliases = {e["alias"] for e in api.get("/v2.0/extensions")[1]["extensions"]}
    assert {"vpnaas", "vpn-endpoint-groups"} <= aliases


def test_site_connection_lifecycle_and_in_use(api, site):
    ike, ipsec, svc, local, peer = connection_parts(api, site)
    conn = make(api, site, "ipsec-site-connections", "ipsec_site_connection", name="c", peer_address="198.51.100.9",
                peer_id="198.51.100.9", psk="s3cret-psk", vpnservice_id=svc["id"], ikepolicy_id=ike["id"],
                ipsecpolicy_id=ipsec["id"], local_ep_group_id=local["id"], peer_ep_group_id=peer["id"])
    assert conn["psk"] == "s3cret-psk", "Neutron returns the PSK to its owner"
    assert conn["status"] == "PENDING_CREATE" and conn["route_mode"] == "static" and conn["auth_mode"] == "psk"
    assert conn["dpd"] == {"action": "hold", "interval": 30, "timeout": 120}
    assert conn["initiator"] == "bi-directional" and conn["mtu"] == 1500 and conn["peer_cidrs"] == []

    status, body = api.delete(f"{VPN}/ikepolicies/{ike['id']}")
    assert status == 409 and body["NeutronError"]["type"] == "IKEPolicyInUse"
    assert api.delete(f"{VPN}/ipsecpolicies/{ipsec['id']}")[0] == 409
    assert api.delete(f"{VPN}/vpnservices/{svc['id']}")[0] == 409
    assert api.delete(f"{VPN}/endpoint-groups/{peer['id']}")[0] == 409
    assert api.put(f"{VPN}/ikepolicies/{ike['id']}", {"ikepolicy": {"pfs": "group5"}})[0] == 409

    path = f"{VPN}/ipsec-site-connections/{conn['id']}"
    status, body = api.put(path, {"ipsec_site_connection": {"dpd": {"interval": 10}, "admin_state_up": False}})
    assert status == 200, body
    upd = body["ipsec_site_connection"]
    assert upd["dpd"] == {"action": "hold", "interval": 10, "timeout": 120} and upd["status"] == "DOWN"
    assert api.delete(path)[0] == 204
    site["made"].remove(path)
    assert api.get(path)[0] == 404
    assert api.delete(f"{VPN}/ikepolicies/{ike['id']}")[0] == 204
    site["made"].remove(f"{VPN}/ikepolicies/{ike['id']}")


@pytest.mark.parametrize("kind,key,attrs,needle", [
    ("ikepolicies", "ikepolicy", {"encryption_algorithm": "aes-128-ccm-8"}, "aes-128-ccm-8"),
    ("ikepolicies", "ikepolicy", {"pfs": "group31"}, "group31"),
    ("ipsecpolicies", "ipsecpolicy", {"transform_protocol": "ah"}, "transform_protocol ah"),
    ("ipsecpolicies", "ipsecpolicy", {"encapsulation_mode": "transport"}, "transport"),
    ("ipsecpolicies", "ipsecpolicy", {"auth_algorithm": "md5"}, "md5"),
    ("ikepolicies", "ikepolicy", {"lifetime": {"units": "kilobytes", "value": 10}}, "kilobytes"),
])
def test_unsupported_values_are_400(api, kind, key, attrs, needle):
    status, body = api.post(f"{VPN}/{kind}", {key: attrs})
    assert status == 400 and needle in body["NeutronError"]["message"], body


def test_connection_validation(api, site):
    ike, ipsec, svc, local, peer = connection_parts(api, site)
    base = dict(peer_address="198.51.100.9", peer_id="198.51.100.9", psk="x", vpnservice_id=svc["id"],
                ikepolicy_id=ike["id"], ipsecpolicy_id=ipsec["id"])
    cases = [
        ({}, "MissingRequiredEndpointGroup"),
        ({"local_ep_group_id": peer["id"], "peer_ep_group_id": peer["id"]}, "WrongEndpointGroupType"),
        ({"local_ep_group_id": local["id"], "peer_ep_group_id": peer["id"], "peer_cidrs": ["10.9.0.0/24"]},
         "PeerCidrsInvalid"),
        ({"local_ep_group_id": local["id"], "peer_ep_group_id": peer["id"], "dpd": {"interval": 60, "timeout": 30}},
         "IPsecSiteConnectionDpdIntervalValueError"),
    ]
    for extra, etype in cases:
        status, body = api.post(f"{VPN}/ipsec-site-connections", {"ipsec_site_connection": {**base, **extra}})
        assert status == 400 and body["NeutronError"]["type"] == etype, (extra, body)
    status, body = api.post(f"{VPN}/ipsec-site-connections", {"ipsec_site_connection": {
        **base, "peer_id": "bad\"id", "local_ep_group_id": local["id"], "peer_ep_group_id": peer["id"]}})
    assert status == 400
    status, body = api.post(f"{VPN}/vpnservices", {"vpnservice": {"router_id": "0" * 8 + "-0000-4000-8000-" + "0" * 12}})
    assert status == 404 and body["NeutronError"]["type"] == "RouterNotFound"


def test_other_projects_cannot_see(api, site):
    ike = make(api, site, "ikepolicies", "ikepolicy", name="mine")
    other = api.as_project("someone-else")
    assert other.get(f"{VPN}/ikepolicies/{ike['id']}")[0] == 404
    assert other.get(f"{VPN}/ikepolicies")[1]["ikepolicies"] == []


def test_router_in_use_by_vpn_service(api, site):
    """Neutron's RouterInUseByVPNService: 409 while any VPN service sits on the router,
    checked before the interfaces (as Neutron's BEFORE_DELETE callback runs first)."""
    rid = site["router"]["id"]
    svc = make(api, site, "vpnservices", "vpnservice", router_id=rid)
    status, body = api.delete(f"/v2.0/routers/{rid}")
    assert status == 409 and body["NeutronError"]["type"] == "RouterInUseByVPNService", body
    assert svc["id"] in body["NeutronError"]["message"]

    assert api.put(f"/v2.0/routers/{rid}/remove_router_interface", {"subnet_id": site["subnet"]["id"]})[0] == 200
    status, body = api.delete(f"/v2.0/routers/{rid}")
    assert status == 409 and body["NeutronError"]["type"] == "RouterInUseByVPNService", body
    assert api.get(f"/v2.0/routers/{rid}")[0] == 200, "a refused delete leaves the router alone"

    path = f"{VPN}/vpnservices/{svc['id']}"
    assert api.delete(path)[0] == 204
    site["made"].remove(path)
    assert api.delete(f"/v2.0/routers/{rid}")[0] == 204
    assert api.get(f"/v2.0/routers/{rid}")[0] == 404
