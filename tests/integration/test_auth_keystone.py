"""netledger behind a real Keystone (PyPI ``keystone``, SQLite, fernet tokens).

Three projects, users holding member / reader / admin, the service user netledger
validates tokens with; 401s with WWW-Authenticate; the actor in each event is the
token's user and project; revocation and expiry; RBAC between projects; openstacksdk
with password auth through Keystone's catalog.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from netledger.libs import bus as busmod
from netledger.libs.events import codec
from netledger.libs.events.subjects import Subjects
from tests.integration.test_api_support import neutron_error
from tests.keystone import fixture as ksfix
from tests.keystone.directory import Directory
from tests.support import Client, Stack, free_port, wait_http

TOKEN_LIFETIME = 120     # seconds: the expiry test waits for one token to run out
CACHE_TTL = 2            # seconds: how long a revoked token may still work
PASSWORD = "pw-" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def keystone():
    try:
        ks = ksfix.start(free_port(), expiration=TOKEN_LIFETIME)
    except ksfix.KeystoneUnavailable as exc:
        pytest.skip(f"Keystone could not be installed or started: {exc}")
    try:
        yield ks
    finally:
        ks.stop()


@pytest.fixture(scope="module")
def directory(keystone):
    d = Directory(keystone, PASSWORD)
    tag = uuid.uuid4().hex[:6]
    for p in ("alpha", "beta", "gamma", "service"):
        d.project(f"{p}-{tag}")
    d.user(f"alice-{tag}", f"alpha-{tag}", "member")
    d.user(f"rita-{tag}", f"alpha-{tag}", "reader")
    d.user(f"bob-{tag}", f"beta-{tag}", "member")
    d.user(f"gina-{tag}", f"gamma-{tag}", "member")
    d.user(f"neutron-{tag}", f"service-{tag}", "service")
    d.tag = tag
    return d


@pytest.fixture(scope="module")
def ks_stack(nats_server, keystone, directory):
    """topology + API with auth_strategy=keystone (start_stack's probe needs a token)."""
    import os
    import shutil
    import tempfile

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    directory.endpoint(url)
    workdir = tempfile.mkdtemp(prefix="nl-ks-")
    env = {**os.environ, "NETLEDGER_VAR_DIR": workdir, "NETLEDGER_AUTH_STRATEGY": "keystone",
           "NETLEDGER_KEYSTONE_URL": keystone.url, "NETLEDGER_KEYSTONE_SERVICE_USER": f"neutron-{directory.tag}",
           "NETLEDGER_KEYSTONE_SERVICE_PASSWORD": PASSWORD,
           "NETLEDGER_KEYSTONE_SERVICE_PROJECT": f"service-{directory.tag}",
           "NETLEDGER_TOKEN_CACHE_TTL": str(CACHE_TTL), "NETLEDGER_QUOTA_NETWORK": "100",
           "NETLEDGER_QUOTA_PORT": "500"}
    stack = Stack(nats_url=nats_server, prefix="ks" + uuid.uuid4().hex[:8], workdir=workdir, api_urls=[url], env=env)
    stack.spawn("topology", ["topology"])
    stack.spawn("api0", ["api", "--port", str(port)])
    try:
        wait_http(url + "/")
        yield stack
    finally:
        stack.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)


def client(ks_stack, keystone, directory, user: str, project: str | None) -> Client:
    token, _ = keystone.token(f"{user}-{directory.tag}", PASSWORD, f"{project}-{directory.tag}" if project else None)
    return Client(ks_stack.api_urls[0], {"X-Auth-Token": token})


@pytest.fixture
def who(ks_stack, keystone, directory):
    def make(user: str, project: str) -> Client:
        return client(ks_stack, keystone, directory, user, project)
    return make


def test_missing_or_bad_tokens_are_401_with_keystone_uri(ks_stack, keystone):
    api = Client(ks_stack.api_urls[0])
    assert api.get("/")[0] == 200                       # version discovery needs no token
    for headers in ({}, {"X-Auth-Token": "not-a-token"}, {"X-Auth-Token": "gAAAAA" + "x" * 180}):
        import urllib.error
        import urllib.request

        req = urllib.request.Request(api.base + "/v2.0/networks", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(req, timeout=30)
        assert info.value.code == 401
        assert info.value.headers["WWW-Authenticate"] == f'Keystone uri="{keystone.url}"'


def _last_actor(stack, subject: str):
    async def read():
        bus = await busmod.connect(stack.nats_url, name="test-reader", subjects=Subjects(stack.prefix))
        try:
            msg = await bus.js.get_last_msg(bus.stream_names["events"], subject)
            return codec.decode(msg.data).actor
        finally:
            await bus.nc.close()
    return asyncio.run(read())


def test_roles_and_cross_project_access(ks_stack, who, directory):
    alice, rita, bob = who("alice", "alpha"), who("rita", "alpha"), who("bob", "beta")
    admin = Client(ks_stack.api_urls[0], {"X-Auth-Token": directory.admin_token})
    net = alice.create("network", name="ks-net")
    assert net["project_id"] == directory.projects[f"alpha-{directory.tag}"]
    actor = _last_actor(ks_stack, Subjects(ks_stack.prefix).network(net["id"]))
    assert (actor.user_id, actor.project_id) == (directory.users[f"alice-{directory.tag}"], net["project_id"])
    sub = alice.create("subnet", network_id=net["id"], cidr="10.120.0.0/24", ip_version=4)
    port = alice.create("port", network_id=net["id"])
    for coll, kind, res in (("networks", "network", net), ("subnets", "subnet", sub), ("ports", "port", port)):
        path = f"/v2.0/{coll}/{res['id']}"
        assert rita.get(path)[0] == 200
        neutron_error(*rita.put(path, {kind: {"name": "x"}}), 403, "PolicyNotAuthorized")
        neutron_error(*rita.delete(path), 403)
        neutron_error(*bob.get(path), 404)
        neutron_error(*bob.put(path, {kind: {"name": "x"}}), 404)
        assert admin.get(path)[0] == 200
    neutron_error(*rita.post("/v2.0/networks", {"network": {"name": "r"}}), 403)
    neutron_error(*alice.post("/v2.0/networks", {"network": {"name": "s", "shared": True}}), 403)
    assert "provider:network_type" not in alice.get(f"/v2.0/networks/{net['id']}")[1]["network"]
    assert "provider:network_type" in admin.get(f"/v2.0/networks/{net['id']}")[1]["network"]
    assert alice.delete(f"/v2.0/ports/{port['id']}")[0] == 204
    assert alice.delete(f"/v2.0/networks/{net['id']}")[0] == 204


def test_rbac_between_keystone_projects(ks_stack, who, directory):
    alice, bob, gina = who("alice", "alpha"), who("bob", "beta"), who("gina", "gamma")
    net = alice.create("network", name="to-share")
    alice.create("subnet", network_id=net["id"], cidr="10.121.0.0/24", ip_version=4)
    beta = directory.projects[f"beta-{directory.tag}"]
    status, body = alice.post("/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "network", "object_id": net["id"], "action": "access_as_shared", "target_tenant": beta}})
    assert status == 201, body
    port = bob.create("port", network_id=net["id"])
    assert port["project_id"] == beta
    neutron_error(*gina.get(f"/v2.0/networks/{net['id']}"), 404)
    neutron_error(*alice.delete(f"/v2.0/rbac-policies/{body['rbac_policy']['id']}"), 409, "RbacPolicyInUse")
    assert bob.delete(f"/v2.0/ports/{port['id']}")[0] == 204
    assert alice.delete(f"/v2.0/rbac-policies/{body['rbac_policy']['id']}")[0] == 204
    neutron_error(*bob.get(f"/v2.0/networks/{net['id']}"), 404)


def test_quota_through_keystone(ks_stack, who, directory):
    alice = who("alice", "alpha")
    admin = Client(ks_stack.api_urls[0], {"X-Auth-Token": directory.admin_token})
    project = directory.projects[f"alpha-{directory.tag}"]
    neutron_error(*alice.put(f"/v2.0/quotas/{project}", {"quota": {"router": 1}}), 403)
    assert admin.put(f"/v2.0/quotas/{project}", {"quota": {"router": 1}})[0] == 200
    assert alice.get(f"/v2.0/quotas/{project}")[1]["quota"]["router"] == 1
    status, body = alice.post("/v2.0/routers", {"router": {"name": "r1"}})
    assert status == 201, body
    assert alice.get(f"/v2.0/quotas/{project}/details")[1]["quota"]["router"]["used"] == 1
    alice.delete(f"/v2.0/routers/{body['router']['id']}")


def test_revoked_token_stops_working_within_the_cache_ttl(ks_stack, keystone, directory, who):
    alice = who("alice", "alpha")
    assert alice.get("/v2.0/networks")[0] == 200          # validated and cached
    status, *_ = keystone.call("DELETE", "/v3/auth/tokens", token=directory.admin_token,
                               headers={"X-Subject-Token": alice.headers["X-Auth-Token"]})
    assert status == 204
    time.sleep(CACHE_TTL + 0.5)
    assert alice.get("/v2.0/networks")[0] == 401


def test_expired_token_is_refused(ks_stack, keystone, directory):
    token, body = keystone.token(f"bob-{directory.tag}", PASSWORD, f"beta-{directory.tag}")
    bob = Client(ks_stack.api_urls[0], {"X-Auth-Token": token})
    assert bob.get("/v2.0/networks")[0] == 200
    from netledger.services.api.auth.tokens import parse_time

    wait = parse_time(body["expires_at"]) - time.time()
    assert 0 < wait <= TOKEN_LIFETIME
    # Keep using it: the cache must never serve it past expires_at.
    while time.time() < parse_time(body["expires_at"]) - 1:
        assert bob.get("/v2.0/networks")[0] == 200
        time.sleep(5)
    time.sleep(1.5)
    assert bob.get("/v2.0/networks")[0] == 401


def test_openstacksdk_through_the_catalog(ks_stack, keystone, directory):
    import openstack

    conn = openstack.connect(auth_url=keystone.url + "/v3", username=f"alice-{directory.tag}", password=PASSWORD,
                             project_name=f"alpha-{directory.tag}", user_domain_name="Default",
                             project_domain_name="Default", region_name="RegionOne", load_yaml_config=False,
                             load_envvars=False)
    try:
        net = conn.network.create_network(name="sdk-net")
        assert net.project_id == directory.projects[f"alpha-{directory.tag}"]
        conn.network.create_subnet(network_id=net.id, cidr="10.122.0.0/24", ip_version=4)
        port = conn.network.create_port(network_id=net.id)
        assert [p.id for p in conn.network.ports(network_id=net.id)] == [port.id]
        quota = conn.network.get_quota(directory.projects[f"alpha-{directory.tag}"])
        assert (quota.networks, quota.ports) == (100, 500)     # Neutron's defaults, from config
        conn.network.delete_port(port)
        conn.network.delete_network(net)
    finally:
        conn.close()
