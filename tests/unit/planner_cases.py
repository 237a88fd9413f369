"""Every planner as one ``Case`` for the invariant harness (test_planner_invariants).

A case says how to draw a desired state and a starting observation (hypothesis
strategies), how to plan, which FakeHost applies the ops, and what of the host's
state must agree between an incremental history and a rebuild from scratch
(``canonical``: e.g. local VLAN numbers depend on history, what they map to does not).
The strategies are the planners' own (their unit test modules); this file only
lines them up.
"""

from __future__ import annotations

from typing import Any, Callable

import msgspec
from hypothesis import strategies as st

from netledger.services.advanced.lb import plan as lb_plan
from netledger.services.advanced.lb.config import LbConfig, vip_link
from netledger.services.advanced.vpn import model as VM
from netledger.services.advanced.vpn.plan import plan as vpn_plan
from netledger.services.dhcp import plan as dhcp_plan
from netledger.services.l2.linuxbridge.plan import plan as lb2_plan
from netledger.services.l2.linuxbridge.sim import simulate as lb2_sim
from netledger.services.l2.ovs.plan import plan as ovs_plan
from netledger.services.l2.ovs.sim import simulate as ovs_sim
from netledger.services.l3.plan import plan as l3_plan, want as l3_want
from tests.fakehost import dhcp as fake_dhcp, l3 as fake_l3, lb as fake_lb, vpn as fake_vpn
from tests.unit import test_dhcp_plan as T_DHCP
from tests.unit import test_fw_render as T_FW
from tests.unit import test_l2_linuxbridge_plan as T_LB2
from tests.unit import test_l2_linuxbridge_sg as T_LB2SG
from tests.unit import test_l2_ovs_plan as T_OVS
from tests.unit import test_l3_plan as T_L3
from tests.unit import test_lb_render as T_LB
from tests.unit import test_sg_plan as T_SG
from tests.unit import test_vpn_plan as T_VPN


class Case(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    desired: Any                                  # strategy of desired states (None = remove all)
    observed: Any                                 # strategy of starting observations
    plan: Callable[[Any, Any], list]
    apply: Callable[[Any, list], Any]             # the FakeHost's
    canonical: Callable[[Any], Any] = lambda o: o
    describe: Callable[[list], Any] = lambda ops: ops


def _none_or(values) -> Any:
    return st.one_of(st.none(), st.sampled_from(values))


# --- L3 and FWaaS (the FW groups render into the router's nft table)
def _l3(intent, seen):
    return l3_plan(l3_want(intent, T_L3.CFG) if intent else None, seen)


def _l3_starts(states: dict) -> Any:
    """An empty host, or one converged to any state (what a restart finds)."""
    return st.one_of(st.just(T_L3.EMPTY), st.sampled_from(sorted(states)).map(
        lambda n: fake_l3.apply(T_L3.EMPTY, _l3(states[n], T_L3.EMPTY))))


def _fw(intent, seen):
    return l3_plan(l3_want(intent, T_FW.CFG) if intent else None, seen)


# --- load balancer (HAProxy)
LB_CFG = LbConfig(host="h1", state_dir="/s")


def _lb_intents() -> list:
    base = T_LB.intent()
    s = base.state
    down = msgspec.structs.replace(base, state=msgspec.structs.replace(
        s, lb=msgspec.structs.replace(s.lb, admin_state_up=False)))
    one = msgspec.structs.replace(base, state=msgspec.structs.replace(s, listeners=s.listeners[:1]))
    moved = msgspec.structs.replace(base, vip=msgspec.structs.replace(base.vip, cidr="10.0.0.6/24", mtu=1400))
    return [base, down, one, moved]


LB_INTENTS = _lb_intents()
LB_EMPTY = lb_plan.Seen(lb_id=T_LB.LB)
LB_STARTS = st.one_of(
    st.just(LB_EMPTY),
    st.sampled_from(range(len(LB_INTENTS))).map(
        lambda i: fake_lb.apply(LB_EMPTY, lb_plan.plan(LB_INTENTS[i], LB_EMPTY, LB_CFG))),
    st.just(lb_plan.Seen(lb_id=T_LB.LB, netns_exists=True, ovs_port=True, ovs_name=vip_link("vip"), link_in_ns=True,
                         mac="fa:16:3e:99:99:99", mtu=9000, up=False, cidrs=frozenset({"10.9.9.9/24"}),
                         config="# hand edit", running=True, dir_exists=True)),
)


# --- DHCP
def _dhcp_nets() -> list:
    h = T_DHCP.host
    return [T_DHCP.net(), T_DHCP.net([h(1), h(2)]), T_DHCP.net([h(3)], subnets=(T_DHCP.S1, T_DHCP.S2)),
            T_DHCP.net([h(1)], mtu=1400, dns=("1.1.1.1",))]


def _dhcp(n, o):
    return dhcp_plan.plan_network(n, T_DHCP.layout(n), o)


DHCP_NETS = _dhcp_nets()
DHCP_STARTS = st.one_of(st.just(dhcp_plan.Observed()), st.sampled_from(range(len(DHCP_NETS))).map(
    lambda i: fake_dhcp.apply(dhcp_plan.Observed(), _dhcp(DHCP_NETS[i], dhcp_plan.Observed()))))


# --- VPN (the L3 worker owns the namespace: start states have it)
VPN_STARTS = st.sampled_from([s for s in T_VPN.STATES if s.netns_exists])


def _vpn_canonical(s: VM.Seen) -> VM.Seen:
    """IKE SAs are the peers' doing and pids the kernel's: not the planner's to match."""
    return msgspec.structs.replace(s, ike_sas=frozenset(), pid=1 if s.pid else 0)

CASES = [
    Case(name="ovs", desired=T_OVS.desired_states(), observed=st.sets(st.sampled_from(T_OVS.PORTS)).map(
        T_OVS.base_observed), plan=lambda d, o: ovs_plan(d, o, T_OVS.CFG), apply=ovs_sim, canonical=T_OVS.canonical),
    Case(name="sg-ovs", desired=T_SG.sg_states(), observed=st.just(T_SG.observed()),
         plan=lambda d, o: ovs_plan(d, o, T_SG.CFG), apply=ovs_sim),
    Case(name="linuxbridge", desired=T_LB2.desired_states(), observed=st.sets(st.sampled_from(T_LB2.PORTS)).map(
        T_LB2.base_observed), plan=lambda d, o: lb2_plan(d, o, T_LB2.CFG), apply=lb2_sim,
         canonical=T_LB2.canonical),
    Case(name="sg-linuxbridge", desired=T_LB2SG.desired_states(), observed=T_LB2SG.observed_states(),
         plan=lambda d, o: lb2_plan(d, o, T_LB2SG.CFG), apply=lb2_sim),
    Case(name="l3", desired=_none_or(list(T_L3.STATES.values())), observed=_l3_starts(T_L3.STATES),
         plan=_l3, apply=fake_l3.apply),
    Case(name="fw", desired=_none_or(list(T_FW.STATES.values())), observed=st.just(T_FW.EMPTY),
         plan=_fw, apply=fake_l3.apply),
    Case(name="dhcp", desired=_none_or(DHCP_NETS), observed=DHCP_STARTS, plan=_dhcp, apply=fake_dhcp.apply,
         canonical=T_DHCP._strip_pids),
    Case(name="lb-haproxy", desired=_none_or(LB_INTENTS), observed=LB_STARTS,
         plan=lambda d, o: lb_plan.plan(d, o, LB_CFG), apply=fake_lb.apply),
    Case(name="vpn", desired=_none_or([w for w in T_VPN.WANTS if w is not None]), observed=VPN_STARTS,
         plan=vpn_plan, apply=fake_vpn.apply, canonical=_vpn_canonical,
         describe=lambda ops: [VM.describe(o) for o in ops]),
]
