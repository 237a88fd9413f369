"""Project isolation for every collection the API serves, as a table.

Project A (member) owns one resource of every kind; project B (member) lists, shows,
updates and deletes each of them and references them from its own creates; A's reader
reads everything and may write nothing. The answers are Neutron's (and Octavia's for
/v2/lbaas), taken from their sources:

- Neutron hides what a project cannot see: show/update/delete answer 404 <Kind>NotFound
  (the controller "pretends it does not exist" unless the caller may show it, in which
  case a refused write is 403 PolicyNotAuthorized -- the reader's case). A create that
  references an invisible id fails the plugin's lookup: 404 NetworkNotFound,
  SecurityGroupNotFound, RouterNotFound, VPNServiceNotFound, ...
- Octavia loads the object first and then enforces ``project_id:%(project_id)s`` on it:
  another project's load balancer tree answers 403 (Forbidden) on show, update, delete
  and on creating a child under it; lists are filtered by project.
- The only ways across: a shared network, an external network, an RBAC grant.

Adding a collection is one ``Kind(...)`` line in KINDS (plus how A makes one in
``world``). The LB worker is not running here: ``LbWorkerStandIn`` publishes the
status facts a real worker would (heartbeat, "config of revision N applied"), so A's
load balancer leaves PENDING states between writes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import pytest

from netledger.libs.events import codec
from netledger.libs.events.envelope import wrap
from netledger.libs.events.octavia import LoadBalancerStatusReported
from netledger.libs.events.status import AgentHeartbeat
from netledger.libs.events.subjects import Subjects
from tests.support import Client, destroy_stack, start_stack

LB = "/v2/lbaas"
VPN = "/v2.0/vpn"
FW = "/v2.0/fwaas"


@dataclass(frozen=True)
class Kind:
    """One collection: where it lives, its body key, an update body, Neutron's
    not-found type (None: Octavia), and a valid create body (for the reader's 403)."""

    name: str
    coll: str                      # collection path; "{parent}" filled from the world
    key: str
    update: dict | None
    not_found: str | None
    create: object = None          # world -> body (None: no create for a reader to try)
    list_key: str = ""
    parent: str = ""               # world key whose id fills {parent}
    octavia_list_403: bool = False  # Octavia checks the parent's project on sub-collections

    @property
    def octavia(self) -> bool:
        return self.coll.startswith(LB)

    def path(self, w: dict) -> str:
        return self.coll.replace("{parent}", w[self.parent]["id"]) if self.parent else self.coll

    @property
    def plural(self) -> str:
        return self.list_key or self.coll.rsplit("/", 1)[1].replace("-", "_")


KINDS = [
    Kind("network", "/v2.0/networks", "network", {"description": "x"}, "NetworkNotFound", lambda w: {"name": "r"}),
    Kind("subnet", "/v2.0/subnets", "subnet", {"description": "x"}, "SubnetNotFound",
         lambda w: {"network_id": w["network"]["id"], "cidr": "10.91.9.0/24", "ip_version": 4}),
    Kind("port", "/v2.0/ports", "port", {"description": "x"}, "PortNotFound",
         lambda w: {"network_id": w["network"]["id"]}),
    Kind("router", "/v2.0/routers", "router", {"description": "x"}, "RouterNotFound", lambda w: {"name": "r"}),
    Kind("floatingip", "/v2.0/floatingips", "floatingip", {"description": "x"}, "FloatingIPNotFound",
         lambda w: {"floating_network_id": w["ext"]["id"]}),
    Kind("security_group", "/v2.0/security-groups", "security_group", {"description": "x"},
         "SecurityGroupNotFound", lambda w: {"name": "r"}),
    Kind("security_group_rule", "/v2.0/security-group-rules", "security_group_rule", None,
         "SecurityGroupRuleNotFound", lambda w: {"security_group_id": w["security_group"]["id"],
                                                 "direction": "ingress", "protocol": "udp"}),
    Kind("rbac_policy", "/v2.0/rbac-policies", "rbac_policy", {"target_tenant": "p-elsewhere"}, "RbacPolicyNotFound",
         lambda w: {"object_type": "network", "object_id": w["network"]["id"], "action": "access_as_shared",
                    "target_tenant": "p-someone"}),
    Kind("firewall_rule", f"{FW}/firewall_rules", "firewall_rule", {"description": "x"}, "FirewallRuleNotFound",
         lambda w: {"protocol": "tcp", "action": "allow"}),
    Kind("firewall_policy", f"{FW}/firewall_policies", "firewall_policy", {"description": "x"},
         "FirewallPolicyNotFound", lambda w: {"name": "r"}),
    Kind("firewall_group", f"{FW}/firewall_groups", "firewall_group", {"description": "x"}, "FirewallGroupNotFound",
         lambda w: {"name": "r"}),
    Kind("ikepolicy", f"{VPN}/ikepolicies", "ikepolicy", {"description": "x"}, "IKEPolicyNotFound",
         lambda w: {"name": "r"}),
    Kind("ipsecpolicy", f"{VPN}/ipsecpolicies", "ipsecpolicy", {"description": "x"}, "IPsecPolicyNotFound",
         lambda w: {"name": "r"}),
    Kind("vpnservice", f"{VPN}/vpnservices", "vpnservice", {"description": "x"}, "VPNServiceNotFound",
         lambda w: {"router_id": w["router"]["id"]}),
    Kind("endpoint_group", f"{VPN}/endpoint-groups", "endpoint_group", {"description": "x"}, "EndpointGroupNotFound",
         lambda w: {"type": "cidr", "endpoints": ["10.93.0.0/24"]}),
    Kind("ipsec_site_connection", f"{VPN}/ipsec-site-connections", "ipsec_site_connection", {"description": "x"},
         "IPsecSiteConnectionNotFound", lambda w: conn_body(w, w)),
    Kind("loadbalancer", f"{LB}/loadbalancers", "loadbalancer", {"name": "x"}, None,
         lambda w: {"vip_subnet_id": w["subnet"]["id"]}),
    Kind("listener", f"{LB}/listeners", "listener", {"name": "x"}, None,
         lambda w: {"loadbalancer_id": w["loadbalancer"]["id"], "protocol": "HTTP", "protocol_port": 8080}),
    Kind("pool", f"{LB}/pools", "pool", {"name": "x"}, None,
         lambda w: {"loadbalancer_id": w["loadbalancer"]["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}),
    Kind("member", f"{LB}/pools/{{parent}}/members", "member", {"name": "x"}, None,
         lambda w: {"address": "10.90.0.99", "protocol_port": 80}, parent="pool", octavia_list_403=True),
    Kind("healthmonitor", f"{LB}/healthmonitors", "healthmonitor", {"name": "x"}, None,
         lambda w: {"pool_id": w["pool"]["id"], "type": "TCP", "delay": 5, "timeout": 3, "max_retries": 2}),
    Kind("l7policy", f"{LB}/l7policies", "l7policy", {"name": "x"}, None,
         lambda w: {"listener_id": w["listener"]["id"], "action": "REJECT"}),
    Kind("l7rule", f"{LB}/l7policies/{{parent}}/rules", "rule", {"admin_state_up": True}, None,
         lambda w: {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/r"}, list_key="rules",
         parent="l7policy", octavia_list_403=True),
]
BY_NAME = {k.name: k for k in KINDS}


def conn_body(w: dict, owner: dict) -> dict:
    """A site connection from ``owner``'s policies onto ``w``'s VPN service."""
    return {"vpnservice_id": w["vpnservice"]["id"], "ikepolicy_id": owner["ikepolicy"]["id"],
            "ipsecpolicy_id": owner["ipsecpolicy"]["id"], "peer_address": "198.51.100.77",
            "peer_id": "198.51.100.77", "psk": "isolation-psk", "local_ep_group_id": w["endpoint_group"]["id"],
            "peer_ep_group_id": w["peer_group"]["id"]}


# --- the LB worker's reports, published as the worker would ---------------------------

class LbWorkerStandIn:
    HOST = "iso-lb-host"

    def __init__(self, stack) -> None:
        self.stack, self.subjects = stack, Subjects(stack.prefix)
        self.agent_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"iso:{stack.prefix}"))

    def _publish(self, subject: str, env) -> None:
        async def run():
            import nats

            nc = await nats.connect(self.stack.nats_url)
            try:
                await nc.jetstream().publish(subject, codec.encode(env))
            finally:
                await nc.close()
        asyncio.run(run())

    def heartbeat(self) -> None:
        ev = AgentHeartbeat(agent_id=self.agent_id, host=self.HOST, agent_type="Loadbalancer agent",
                            binary="netledger-lb-agent", interval=3600.0)
        self._publish(self.subjects.status("agent", self.agent_id), wrap(ev, kind="agent", aggregate_id=self.agent_id))

    def settle(self, admin: Client, lb_id: str) -> None:
        """Report the LB's current revision applied, once it is scheduled here."""
        import sqlite3

        self.heartbeat()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            conn = sqlite3.connect(f"file:{self.stack.db_path}?mode=ro", uri=True)
            row = conn.execute("SELECT host, revision FROM loadbalancers WHERE id = ?", [lb_id]).fetchone()
            conn.close()
            if row and row[0] == self.HOST:
                ev = LoadBalancerStatusReported(lb_id=lb_id, host=self.HOST, revision=row[1])
                self._publish(self.subjects.status("loadbalancer", lb_id),
                              wrap(ev, kind="loadbalancer", aggregate_id=lb_id))
                if admin.get(f"{LB}/loadbalancers/{lb_id}")[1]["loadbalancer"]["provisioning_status"] == "ACTIVE":
                    return
            time.sleep(0.1)
        raise AssertionError(f"load balancer {lb_id} never became ACTIVE")


# --- the world ---------------------------------------------------------------------------

@dataclass
class World:
    a: Client
    b: Client
    reader: Client
    admin: Client
    res: dict = field(default_factory=dict)     # A's resources by kind name (and helpers)
    mine: dict = field(default_factory=dict)    # B's own resources


def ok(status_body, code: int = 201) -> dict:
    status, body = status_body
    assert status == code, (status, body)
    return body


def make(c: Client, kind: Kind, w: dict, **attrs) -> dict:
    return ok(c.post(kind.path(w), {kind.key: attrs}))[kind.key]


def build_a(c: Client, admin: Client, lb: LbWorkerStandIn, ext: dict) -> dict:
    w: dict = {"ext": ext}
    w["network"] = c.create("network", name="a-net")
    w["subnet"] = c.create("subnet", network_id=w["network"]["id"], cidr="10.90.0.0/24", ip_version=4)
    w["port"] = c.create("port", network_id=w["network"]["id"])
    w["router"] = c.create("router", name="a-r", external_gateway_info={"network_id": ext["id"]})
    w["itf"] = ok(c.put(f"/v2.0/routers/{w['router']['id']}/add_router_interface",
                        {"subnet_id": w["subnet"]["id"]}), 200)
    w["floatingip"] = c.create("floatingip", floating_network_id=ext["id"])
    w["security_group"] = make(c, BY_NAME["security_group"], w, name="a-sg")
    w["security_group_rule"] = make(c, BY_NAME["security_group_rule"], w,
                                    security_group_id=w["security_group"]["id"], direction="ingress",
                                    protocol="tcp", port_range_min=22, port_range_max=22)
    w["shared_later"] = c.create("network", name="a-rbac-net")
    w["rbac_policy"] = make(c, BY_NAME["rbac_policy"], w, object_type="network", object_id=w["shared_later"]["id"],
                            action="access_as_shared", target_tenant="p-nobody-" + uuid.uuid4().hex[:6])
    w["firewall_rule"] = make(c, BY_NAME["firewall_rule"], w, protocol="tcp", action="allow")
    w["firewall_policy"] = make(c, BY_NAME["firewall_policy"], w, firewall_rules=[w["firewall_rule"]["id"]])
    w["firewall_group"] = make(c, BY_NAME["firewall_group"], w, ingress_firewall_policy_id=w["firewall_policy"]["id"])
    w["ikepolicy"] = make(c, BY_NAME["ikepolicy"], w, name="a-ike")
    w["ipsecpolicy"] = make(c, BY_NAME["ipsecpolicy"], w, name="a-esp")
    w["vpnservice"] = make(c, BY_NAME["vpnservice"], w, router_id=w["router"]["id"])
    w["endpoint_group"] = make(c, BY_NAME["endpoint_group"], w, type="subnet", endpoints=[w["subnet"]["id"]])
    w["peer_group"] = make(c, BY_NAME["endpoint_group"], w, type="cidr", endpoints=["10.92.0.0/24"])
    w["ipsec_site_connection"] = make(c, BY_NAME["ipsec_site_connection"], w, **conn_body(w, w))
    w["loadbalancer"] = make(c, BY_NAME["loadbalancer"], w, vip_subnet_id=w["subnet"]["id"])
    lb_id = w["loadbalancer"]["id"]
    lb.settle(admin, lb_id)
    for name, attrs in (("listener", {"loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}),
                        ("pool", {"loadbalancer_id": lb_id, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}),
                        ("member", {"address": "10.90.0.50", "protocol_port": 80}),
                        ("healthmonitor", {"type": "TCP", "delay": 5, "timeout": 3, "max_retries": 2}),
                        ("l7policy", {"action": "REJECT"}),
                        ("l7rule", {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/a"})):
        if name == "healthmonitor":
            attrs["pool_id"] = w["pool"]["id"]
        if name == "l7policy":
            attrs["listener_id"] = w["listener"]["id"]
        w[name] = make(c, BY_NAME[name], w, **attrs)
        lb.settle(admin, lb_id)
    return w


def build_b(c: Client) -> dict:
    m: dict = {}
    m["network"] = c.create("network", name="b-net")
    m["subnet"] = c.create("subnet", network_id=m["network"]["id"], cidr="10.95.0.0/24", ip_version=4)
    m["router"] = c.create("router", name="b-r")
    m["security_group"] = ok(c.post("/v2.0/security-groups", {"security_group": {"name": "b-sg"}}))["security_group"]
    m["ikepolicy"] = make(c, BY_NAME["ikepolicy"], m, name="b-ike")
    m["ipsecpolicy"] = make(c, BY_NAME["ipsecpolicy"], m, name="b-esp")
    return m


@pytest.fixture(scope="module")
def stack(nats_server):
    """A stack of its own: the LB stand-in's agent must not schedule other tests' LBs."""
    s = start_stack(nats_server)
    try:
        yield s
    finally:
        destroy_stack(s)


@pytest.fixture(scope="module")
def world(stack) -> World:
    api = stack.api
    pa, pb = ("p" + uuid.uuid4().hex[:10] for _ in range(2))
    hdr = lambda p, r: Client(api.base, {"X-Project-Id": p, "X-Roles": r})  # noqa: E731
    w = World(a=hdr(pa, "member"), b=hdr(pb, "member"), reader=hdr(pa, "reader"), admin=hdr("ops" + pa, "admin"))
    ext = w.admin.create("network", name="iso-ext", **{"router:external": True})
    w.admin.create("subnet", network_id=ext["id"], cidr="203.0.113.0/24", ip_version=4)
    w.res = build_a(w.a, w.admin, LbWorkerStandIn(stack), ext)
    w.mine = build_b(w.b)
    return w


# --- assertions ------------------------------------------------------------------------------

def neutron_error(status: int, body, code: int, type_: str | None) -> None:
    assert status == code, (status, body)
    err = body["NeutronError"]
    assert set(err) == {"type", "message", "detail"}, err
    if type_:
        assert err["type"] == type_, err


def octavia_error(status: int, body, code: int) -> None:
    assert status == code, (status, body)
    assert set(body) == {"faultcode", "faultstring", "debuginfo"}, body


def hidden(kind: Kind, status_body) -> None:
    """Neutron: 404 <Kind>NotFound; Octavia: 403 on another project's object."""
    if kind.octavia:
        octavia_error(*status_body, 403)
    else:
        neutron_error(*status_body, 404, kind.not_found)


# --- B against A's resources: list, show, update, delete ------------------------------------

@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_b_lists_without_a(world, kind):
    status, body = world.b.get(kind.path(world.res))
    if kind.octavia_list_403:
        octavia_error(status, body, 403)
        return
    assert status == 200, body
    assert world.res[kind.name]["id"] not in [r["id"] for r in body[kind.plural]]


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_b_shows(world, kind):
    hidden(kind, world.b.get(f"{kind.path(world.res)}/{world.res[kind.name]['id']}"))


@pytest.mark.parametrize("kind", [k for k in KINDS if k.update], ids=lambda k: k.name)
def test_b_updates(world, kind):
    hidden(kind, world.b.put(f"{kind.path(world.res)}/{world.res[kind.name]['id']}", {kind.key: kind.update}))


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_b_deletes(world, kind):
    hidden(kind, world.b.delete(f"{kind.path(world.res)}/{world.res[kind.name]['id']}"))
    assert world.a.get(f"{kind.path(world.res)}/{world.res[kind.name]['id']}")[0] == 200, "still there"


# --- B referencing A's resources by id --------------------------------------------------------
# (what B posts, where, which of A's kinds it names) -> Neutron's / Octavia's answer.

_COUNT = iter(range(1000))


def _ref(path, key, body, code, type_=None):
    return pytest.param(path, key, body, code, type_, id=f"{next(_COUNT):02d}-{key}-{type_ or code}")


REFERENCES = [
    _ref("/v2.0/ports", "port", lambda a, m=None: {"network_id": a["network"]["id"]}, 404, "NetworkNotFound"),
    _ref("/v2.0/subnets", "subnet", lambda a, m=None: {"network_id": a["network"]["id"], "cidr": "10.96.0.0/24",
                                                        "ip_version": 4}, 404, "NetworkNotFound"),
    _ref("/v2.0/ports", "port", lambda a, m=None: {"network_id": (m or a)["network"]["id"],
                                                    "security_groups": [a["security_group"]["id"]]},
         404, "SecurityGroupNotFound"),
    _ref("/v2.0/security-group-rules", "security_group_rule",
         lambda a, m=None: {"security_group_id": a["security_group"]["id"], "direction": "ingress"},
         404, "SecurityGroupNotFound"),
    _ref("/v2.0/security-group-rules", "security_group_rule",
         lambda a, m=None: {"security_group_id": (m or a)["security_group"]["id"], "direction": "ingress",
                            "remote_group_id": a["security_group"]["id"]}, 404, "SecurityGroupNotFound"),
    _ref("/v2.0/routers", "router", lambda a, m=None: {"external_gateway_info": {"network_id": a["network"]["id"]}},
         404, "NetworkNotFound"),
    # Neutron's _network_is_external asks the externalnetworks table, not the caller's view:
    # "Bad floatingip request: Network ... is not a valid external network." (400).
    _ref("/v2.0/floatingips", "floatingip", lambda a, m=None: {"floating_network_id": a["network"]["id"]},
         400, "BadRequest"),
    _ref("/v2.0/floatingips", "floatingip", lambda a, m=None: {"floating_network_id": a["ext"]["id"],
                                                                "port_id": a["port"]["id"]}, 404, "PortNotFound"),
    # Neutron's network check runs in a BEFORE_CREATE callback: CallbackFailure -> 400.
    _ref("/v2.0/rbac-policies", "rbac_policy",
         lambda a, m=None: {"object_type": "network", "object_id": a["network"]["id"], "action": "access_as_shared",
                            "target_tenant": "p-third"}, 400, "InvalidInput"),
    _ref("/v2.0/rbac-policies", "rbac_policy",
         lambda a, m=None: {"object_type": "network", "object_id": a["ext"]["id"], "action": "access_as_shared",
                            "target_tenant": "p-third"}, 400, "InvalidInput"),   # visible, not B's
    _ref(f"{FW}/firewall_policies", "firewall_policy", lambda a, m=None: {"firewall_rules": [a["firewall_rule"]["id"]]},
         404, "FirewallRuleNotFound"),
    _ref(f"{FW}/firewall_groups", "firewall_group",
         lambda a, m=None: {"ingress_firewall_policy_id": a["firewall_policy"]["id"]}, 404, "FirewallPolicyNotFound"),
    _ref(f"{FW}/firewall_groups", "firewall_group", lambda a, m=None: {"ports": [a["itf"]["port_id"]]},
         404, "PortNotFound"),
    _ref(f"{VPN}/vpnservices", "vpnservice", lambda a, m=None: {"router_id": a["router"]["id"]}, 404, "RouterNotFound"),
    _ref(f"{VPN}/endpoint-groups", "endpoint_group", lambda a, m=None: {"type": "subnet",
                                                                        "endpoints": [a["subnet"]["id"]]},
         404, "SubnetNotFound"),
    _ref(f"{VPN}/ipsec-site-connections", "ipsec_site_connection",
         lambda a, m=None: conn_body(a, m or a), 404, "VPNServiceNotFound"),
    _ref(f"{LB}/loadbalancers", "loadbalancer", lambda a, m=None: {"vip_subnet_id": a["subnet"]["id"]}, 400),
    _ref(f"{LB}/listeners", "listener", lambda a, m=None: {"loadbalancer_id": a["loadbalancer"]["id"],
                                                           "protocol": "HTTP", "protocol_port": 81}, 403),
    _ref(f"{LB}/pools", "pool", lambda a, m=None: {"loadbalancer_id": a["loadbalancer"]["id"], "protocol": "HTTP",
                                                   "lb_algorithm": "ROUND_ROBIN"}, 403),
    _ref(f"{LB}/pools", "pool", lambda a, m=None: {"listener_id": a["listener"]["id"], "protocol": "HTTP",
                                                   "lb_algorithm": "ROUND_ROBIN"}, 403),
    _ref(f"{LB}/healthmonitors", "healthmonitor", lambda a, m=None: {"pool_id": a["pool"]["id"], "type": "TCP",
                                                                     "delay": 5, "timeout": 3, "max_retries": 2}, 403),
    _ref(f"{LB}/l7policies", "l7policy", lambda a, m=None: {"listener_id": a["listener"]["id"], "action": "REJECT"},
         403),
]


@pytest.mark.parametrize("path, key, body, code, type_", REFERENCES)
def test_b_references_a(world, path, key, body, code, type_):
    status, got = world.b.post(path, {key: body(world.res, world.mine)})
    if path.startswith(LB):
        octavia_error(status, got, code)
    else:
        neutron_error(status, got, code, type_)


@pytest.mark.parametrize("what, path", [
    ("interface by subnet", "subnet_id"), ("interface by port", "port_id")], ids=["subnet_id", "port_id"])
def test_b_attaches_a_to_its_router(world, what, path):
    ref = world.res["subnet"]["id"] if path == "subnet_id" else world.res["port"]["id"]
    status, body = world.b.put(f"/v2.0/routers/{world.mine['router']['id']}/add_router_interface", {path: ref})
    neutron_error(status, body, 404, "SubnetNotFound" if path == "subnet_id" else "PortNotFound")


@pytest.mark.parametrize("parent, sub", [("pool", "members"), ("l7policy", "rules")])
def test_b_creates_a_child_under_a(world, parent, sub):
    coll = "pools" if parent == "pool" else "l7policies"
    body = {"member": {"address": "10.95.0.9", "protocol_port": 80}} if sub == "members" else \
        {"rule": {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/b"}}
    octavia_error(*world.b.post(f"{LB}/{coll}/{world.res[parent]['id']}/{sub}", body), 403)


# --- the only ways across -----------------------------------------------------------------------

def test_shared_network_is_usable_by_b(world):
    net = world.a.create("network", name="a-shared-soon")
    world.a.create("subnet", network_id=net["id"], cidr="10.97.0.0/24", ip_version=4)
    neutron_error(*world.b.post("/v2.0/ports", {"port": {"network_id": net["id"]}}), 404, "NetworkNotFound")
    assert world.admin.put(f"/v2.0/networks/{net['id']}", {"network": {"shared": True}})[0] == 200
    port = ok(world.b.post("/v2.0/ports", {"port": {"network_id": net["id"]}}))["port"]
    assert port["project_id"] == world.b.headers["X-Project-Id"]
    assert world.b.delete(f"/v2.0/ports/{port['id']}")[0] == 204


def test_external_network_is_usable_by_b(world):
    ext = world.res["ext"]
    fip = ok(world.b.post("/v2.0/floatingips", {"floatingip": {"floating_network_id": ext["id"]}}))["floatingip"]
    router = ok(world.b.post("/v2.0/routers", {"router": {"name": "b-gw", "external_gateway_info": {
        "network_id": ext["id"]}}}))["router"]
    assert router["external_gateway_info"]["network_id"] == ext["id"]
    assert world.b.delete(f"/v2.0/floatingips/{fip['id']}")[0] == 204
    assert world.b.delete(f"/v2.0/routers/{router['id']}")[0] == 204


def test_rbac_grant_is_usable_by_b(world):
    net = world.a.create("network", name="a-granted")
    world.a.create("subnet", network_id=net["id"], cidr="10.98.0.0/24", ip_version=4)
    neutron_error(*world.b.get(f"/v2.0/networks/{net['id']}"), 404, "NetworkNotFound")
    grant = ok(world.a.post("/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "network", "object_id": net["id"], "action": "access_as_shared",
        "target_tenant": world.b.headers["X-Project-Id"]}}))["rbac_policy"]
    assert world.b.get(f"/v2.0/networks/{net['id']}")[0] == 200
    port = ok(world.b.post("/v2.0/ports", {"port": {"network_id": net["id"]}}))["port"]
    # The grant is A's: B sees the network, not the policy, and cannot revoke it.
    neutron_error(*world.b.get(f"/v2.0/rbac-policies/{grant['id']}"), 404, "RbacPolicyNotFound")
    assert world.b.delete(f"/v2.0/ports/{port['id']}")[0] == 204
    assert world.a.delete(f"/v2.0/rbac-policies/{grant['id']}")[0] == 204
    neutron_error(*world.b.post("/v2.0/ports", {"port": {"network_id": net["id"]}}), 404, "NetworkNotFound")


# --- A's reader: reads 200, every write 403 -----------------------------------------------------

@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_reader_reads(world, kind):
    item = world.res[kind.name]
    assert world.reader.get(f"{kind.path(world.res)}/{item['id']}")[0] == 200
    status, body = world.reader.get(kind.path(world.res))
    assert status == 200 and item["id"] in [r["id"] for r in body[kind.plural]]


def refused(kind: Kind, status_body) -> None:
    if kind.octavia:
        octavia_error(*status_body, 403)
    else:
        neutron_error(*status_body, 403, "PolicyNotAuthorized")


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_reader_cannot_create(world, kind):
    refused(kind, world.reader.post(kind.path(world.res), {kind.key: kind.create(world.res)}))


@pytest.mark.parametrize("kind", [k for k in KINDS if k.update], ids=lambda k: k.name)
def test_reader_cannot_update(world, kind):
    refused(kind, world.reader.put(f"{kind.path(world.res)}/{world.res[kind.name]['id']}", {kind.key: kind.update}))


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_reader_cannot_delete(world, kind):
    refused(kind, world.reader.delete(f"{kind.path(world.res)}/{world.res[kind.name]['id']}"))


@pytest.mark.parametrize("action", ["add_router_interface", "remove_router_interface"])
def test_reader_cannot_change_interfaces(world, action):
    neutron_error(*world.reader.put(f"/v2.0/routers/{world.res['router']['id']}/{action}",
                                    {"subnet_id": world.res["subnet"]["id"]}), 403, "PolicyNotAuthorized")


# --- collections without a project owner: quotas, agents ----------------------------------------

def test_quotas_of_another_project(world):
    pa = world.a.headers["X-Project-Id"]
    for c in (world.b,):
        neutron_error(*c.get(f"/v2.0/quotas/{pa}"), 403, None)
        neutron_error(*c.put(f"/v2.0/quotas/{pa}", {"quota": {"network": 5}}), 403, None)
        neutron_error(*c.delete(f"/v2.0/quotas/{pa}"), 403, None)
    assert world.reader.get(f"/v2.0/quotas/{pa}")[0] == 200
    neutron_error(*world.reader.put(f"/v2.0/quotas/{pa}", {"quota": {"network": 5}}), 403, None)


def test_agents_are_admin_only(world):
    agents = world.admin.get("/v2.0/agents")[1]["agents"]
    assert agents, "the LB stand-in's heartbeat made one"
    assert world.b.get("/v2.0/agents") == (200, {"agents": []})
    neutron_error(*world.b.get(f"/v2.0/agents/{agents[0]['id']}"), 404, None)
