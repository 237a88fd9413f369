"""Pure parts of load balancing: the aggregate fold, the haproxy.cfg renderer (golden
text, accepted by ``haproxy -c``), the planner's invariants and the health mapping."""

from __future__ import annotations

import os
import shutil
import subprocess

import msgspec
import pytest

from netledger.libs.events import octavia as O
from netledger.services.advanced.lb import health
from netledger.services.advanced.lb.config import LbConfig
from netledger.services.advanced.lb.plan import Seen, plan
from netledger.services.advanced.lb.render_haproxy import expect, render
from netledger.services.topology.evolve.octavia import fold_state

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "lb_haproxy.cfg")
LB, L1, L2, P1, P2 = "lb-1", "li-http", "li-tcp", "pool-a", "pool-b"
T = "2024-01-01T00:00:00Z"


def facts() -> list:
    hm = O.HealthMonitorSpec(id="hm-1", pool_id=P1, project_id="p", type="HTTP", delay=2, timeout=1, max_retries=2,
                             url_path="/health", expected_codes="200-202")
    return [
        O.LoadBalancerCreated(loadbalancer=O.LoadBalancerSpec(id=LB, project_id="p", vip_port_id="vip",
                                                              vip_address="10.0.0.5", vip_subnet_id="s")),
        O.PoolSet(lb_id=LB, pool=O.PoolSpec(id=P1, project_id="p", protocol="HTTP", lb_algorithm="ROUND_ROBIN",
                                            session_persistence=O.SessionPersistence(type="HTTP_COOKIE"))),
        O.PoolSet(lb_id=LB, pool=O.PoolSpec(id=P2, project_id="p", protocol="HTTP", lb_algorithm="LEAST_CONNECTIONS")),
        O.ListenerSet(lb_id=LB, listener=O.ListenerSpec(id=L1, project_id="p", protocol="HTTP", protocol_port=80,
                                                        default_pool_id=P1, connection_limit=100,
                                                        allowed_cidrs=("10.0.0.0/8",))),
        O.ListenerSet(lb_id=LB, listener=O.ListenerSpec(id=L2, project_id="p", protocol="TCP", protocol_port=81)),
        O.MembersSet(lb_id=LB, members=(
            O.MemberSpec(id="m1", pool_id=P1, project_id="p", address="10.0.0.11", protocol_port=8080),
            O.MemberSpec(id="m2", pool_id=P1, project_id="p", address="10.0.0.12", protocol_port=8080, weight=3,
                         backup=True),
            O.MemberSpec(id="m3", pool_id=P2, project_id="p", address="10.0.0.13", protocol_port=8080,
                         admin_state_up=False))),
        O.HealthMonitorSet(lb_id=LB, healthmonitor=hm),
        O.L7PolicySet(lb_id=LB, l7policy=O.L7PolicySpec(id="pol-api", listener_id=L1, project_id="p",
                                                        action="REDIRECT_TO_POOL", redirect_pool_id=P2, position=2)),
        O.L7RuleSet(lb_id=LB, l7rule=O.L7RuleSpec(id="r-api", policy_id="pol-api", project_id="p", type="PATH",
                                                  compare_type="STARTS_WITH", value="/api")),
        O.L7PolicySet(lb_id=LB, l7policy=O.L7PolicySpec(id="pol-deny", listener_id=L1, project_id="p",
                                                        action="REJECT", position=1)),
        O.L7RuleSet(lb_id=LB, l7rule=O.L7RuleSpec(id="r-deny", policy_id="pol-deny", project_id="p", type="HEADER",
                                                  key="X-Bad", compare_type="EQUAL_TO", value="yes")),
    ]


def state_of(events) -> O.LbState:
    s = None
    for ev in events:
        s = fold_state(s, ev, T)
    return s


def intent() -> O.LbIntent:
    s = msgspec.structs.replace(state_of(facts()), host="h1")
    vip = O.VipPort(port_id="vip", network_id="n", mac_address="fa:16:3e:00:00:05", cidr="10.0.0.5/24",
                    gateway_ip="10.0.0.1")
    return O.LbIntent(lb_id=LB, revision=s.revision, vip=vip, state=s)


def test_fold_keeps_the_whole_tree_and_counts_revisions():
    s = state_of(facts())
    assert s.revision == 11 and [p.id for p in s.pools] == [P1, P2]
    assert [li.default_pool_id for li in s.listeners] == [P1, ""]
    s2 = fold_state(s, O.PoolDeleted(lb_id=LB, pool_id=P1), "later")
    assert [m.id for m in s2.members] == ["m3"] and not s2.healthmonitors
    assert s2.listeners[0].default_pool_id == "" and s2.revision == 12
    replaced = fold_state(s, O.MembersReplaced(lb_id=LB, pool_id=P1, members=(s.members[0],)), "later")
    assert [m.id for m in replaced.members] == ["m1", "m3"]
    assert replaced.members[0].stamp.created_at == T and replaced.members[0].stamp.updated_at == "later"
    assert fold_state(s, O.LoadBalancerDeleted(lb_id=LB), "later") is None


def test_replay_is_deterministic():
    assert msgspec.json.encode(state_of(facts())) == msgspec.json.encode(state_of(facts()))


def test_render_matches_golden():
    text = render(intent(), "/run/lb/lb-1")
    if os.environ.get("UPDATE_GOLDEN"):
        open(GOLDEN, "w").write(text)
    assert text == open(GOLDEN).read()
    assert render(intent(), "/run/lb/lb-1") == text


@pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed")
def test_rendered_config_is_valid(tmp_path):
    path = tmp_path / "haproxy.cfg"
    path.write_text(render(intent(), str(tmp_path)))
    proc = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_expected_codes():
    assert expect("200") == "status 200"
    assert expect("200,202") == "rstatus ^(200|202)$"
    assert expect("200-202") == "rstatus ^(200|201|202)$"


def test_plan_converges_and_reapply_is_a_noop():
    cfg = LbConfig(host="h1", state_dir="/run/lb")
    it = intent()
    ops = [type(o).__name__ for o in plan(it, Seen(lb_id=LB), cfg)]
    assert ops == ["AddNetns", "AddVipPort", "MoveVip", "SetVipLink", "AddAddr", "SetGateway", "WriteConfig",
                   "StartHaproxy"]
    done = Seen(lb_id=LB, netns_exists=True, ovs_port=True, ovs_name="lbv-vip", link_in_ns=True,
                mac="fa:16:3e:00:00:05", mtu=1450, up=True, cidrs=frozenset({"10.0.0.5/24"}), gateway="10.0.0.1",
                config=render(it, "/run/lb/lb-1"), running=True, dir_exists=True)
    assert plan(it, done, cfg) == []
    changed = msgspec.structs.replace(it, revision=99)
    assert [type(o).__name__ for o in plan(changed, done, cfg)] == ["WriteConfig", "ReloadHaproxy"]
    assert [type(o).__name__ for o in plan(None, done, cfg)] == ["StopHaproxy", "DelVipPort", "DelNetns",
                                                                 "RemoveDir"]


STAT = """# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight
li-http,FRONTEND,,,0,0,100,0,0,0,0,0,0,,,,,OPEN,
pool-a,m1,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1
pool-a,m2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN 1/2,3
pool-a,BACKEND,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,1
pool-b,m3,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1
"""


def test_health_maps_haproxy_states_to_octavia():
    got = {o.id: o.status for o in health.operating(intent(), health.parse_stat(STAT))}
    assert got["m1"] == "ONLINE" and got["m2"] == "ERROR" and got["m3"] == "OFFLINE"
    assert got[P1] == "DEGRADED" and got[P2] == "ONLINE" and got[LB] == "DEGRADED"
    assert got[L1] == "ONLINE" and got[L2] == "OFFLINE"
