"""Two API processes on one ledger: unique addresses, no lost updates, read-your-writes,
idempotent retries (X-Idempotency-Key)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from tests.integration.test_api_support import apis, held_claims, make_net, neutron_error, stack2  # noqa: F401


def _parallel(n, fn):
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(fn, range(n)))


def test_concurrent_port_creates_never_share_an_address(apis, stack2):
    a, b = apis
    net, sub = make_net(a, "10.70.0.0/26")  # 61 addresses in the pool

    def create(i):
        return (a if i % 2 else b).post("/v2.0/ports", {"port": {"network_id": net["id"], "name": f"c{i}"}})

    results = _parallel(61, create)
    assert all(status == 201 for status, _ in results), [r for r in results if r[0] != 201][:3]
    ips = [body["port"]["fixed_ips"][0]["ip_address"] for _, body in results]
    macs = [body["port"]["mac_address"] for _, body in results]
    assert len(set(ips)) == 61 and len(set(macs)) == 61
    neutron_error(*a.post("/v2.0/ports", {"port": {"network_id": net["id"]}}), 409, "IpAddressGenerationFailure")
    held = held_claims(stack2, subnet_id=sub["id"])
    assert sorted(h["ip_address"] for h in held) == sorted(ips)


def test_concurrent_requests_for_one_address_one_wins(apis, stack2):
    a, b = apis
    net, sub = make_net(a, "10.71.0.0/24")

    def create(i):
        return (a if i % 2 else b).post("/v2.0/ports", {"port": {
            "network_id": net["id"], "fixed_ips": [{"ip_address": "10.71.0.42"}]}})

    results = _parallel(12, create)
    assert sorted(s for s, _ in results) == [201] + [409] * 11
    assert all(body["NeutronError"]["type"] == "IpAddressAlreadyAllocated" for s, body in results if s == 409)
    # The losers hold nothing: the winner's address and MAC only.
    assert len(held_claims(stack2, subnet_id=sub["id"])) == 1
    assert len(held_claims(stack2, "mac_claims", network_id=net["id"])) == 1


def test_read_your_writes_across_processes(apis):
    a, b = apis
    for i in range(20):
        net = a.create("network", name=f"ryw{i}")
        status, body = b.get(f"/v2.0/networks/{net['id']}")
        assert status == 200 and body["network"]["name"] == f"ryw{i}"
        assert b.put(f"/v2.0/networks/{net['id']}", {"network": {"name": f"ryw{i}b"}})[0] == 200
        assert a.get(f"/v2.0/networks/{net['id']}")[1]["network"]["name"] == f"ryw{i}b"
        assert a.delete(f"/v2.0/networks/{net['id']}")[0] == 204
        assert b.get(f"/v2.0/networks/{net['id']}")[0] == 404


def test_concurrent_updates_without_if_match_all_land(apis):
    a, b = apis
    net = a.create("network", name="u")
    tags = [f"t{i}" for i in range(16)]
    results = _parallel(16, lambda i: (a if i % 2 else b).put(f"/v2.0/networks/{net['id']}/tags/{tags[i]}"))
    assert all(status == 201 for status, _ in results), results
    shown = b.get(f"/v2.0/networks/{net['id']}")[1]["network"]
    assert sorted(shown["tags"]) == sorted(tags)  # nobody's write was lost
    assert shown["revision_number"] == net["revision_number"] + 16


def test_concurrent_updates_with_if_match_one_wins(apis):
    a, b = apis
    net = a.create("network", name="m")
    rev = net["revision_number"]

    def update(i):
        return (a if i % 2 else b).put(f"/v2.0/networks/{net['id']}", {"network": {"name": f"w{i}"}},
                                       headers={"If-Match": f"revision_number={rev}"})

    results = _parallel(10, update)
    assert sorted(s for s, _ in results) == [200] + [412] * 9
    winner = next(body["network"]["name"] for s, body in results if s == 200)
    shown = a.get(f"/v2.0/networks/{net['id']}")[1]["network"]
    assert shown["name"] == winner and shown["revision_number"] == rev + 1


def test_idempotent_create_update_delete(apis, stack2):
    a, b = apis
    net, sub = make_net(a, "10.72.0.0/24")
    key = {"X-Idempotency-Key": str(uuid.uuid4())}
    s1, p1 = a.post("/v2.0/ports", {"port": {"network_id": net["id"], "name": "idem"}}, headers=key)
    s2, p2 = b.post("/v2.0/ports", {"port": {"network_id": net["id"], "name": "idem"}}, headers=key)
    assert (s1, s2) == (201, 201) and p1["port"] == p2["port"]
    assert len(a.get(f"/v2.0/ports?network_id={net['id']}")[1]["ports"]) == 1
    assert len(held_claims(stack2, subnet_id=sub["id"])) == 1
    pid = p1["port"]["id"]

    upd = {"X-Idempotency-Key": str(uuid.uuid4())}
    s1, u1 = a.put(f"/v2.0/ports/{pid}", {"port": {"name": "renamed"}}, headers=upd)
    assert s1 == 200 and u1["port"]["revision_number"] == p1["port"]["revision_number"] + 1
    a.put(f"/v2.0/ports/{pid}", {"port": {"name": "someone-else"}})  # a different request in between
    s2, u2 = b.put(f"/v2.0/ports/{pid}", {"port": {"name": "renamed"}}, headers=upd)
    assert s2 == 200 and u2["port"]["name"] == "someone-else"  # the retry did not act again

    dele = {"X-Idempotency-Key": str(uuid.uuid4())}
    assert a.delete(f"/v2.0/ports/{pid}", headers=dele)[0] == 204
    assert b.delete(f"/v2.0/ports/{pid}", headers=dele)[0] == 204
    neutron_error(*b.delete(f"/v2.0/ports/{pid}"), 404)  # without the key: the usual 404
    neutron_error(*b.delete(f"/v2.0/ports/{pid}", headers={"X-Idempotency-Key": "other"}), 404)
    for kind, rid in (("subnet", sub["id"]), ("network", net["id"])):
        key = {"X-Idempotency-Key": str(uuid.uuid4())}
        assert a.delete(f"/v2.0/{kind}s/{rid}", headers=key)[0] == 204
        assert b.delete(f"/v2.0/{kind}s/{rid}", headers=key)[0] == 204


def test_idempotent_bulk_create(apis):
    a, b = apis
    net, _ = make_net(a, "10.73.0.0/24")
    key = {"X-Idempotency-Key": str(uuid.uuid4())}
    body = {"ports": [{"network_id": net["id"]}, {"network_id": net["id"]}]}
    s1, r1 = a.post("/v2.0/ports", body, headers=key)
    s2, r2 = b.post("/v2.0/ports", body, headers=key)
    assert (s1, s2) == (201, 201) and r1 == r2
    assert len(a.get(f"/v2.0/ports?network_id={net['id']}")[1]["ports"]) == 2
