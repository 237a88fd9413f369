"""The VPN planner's three invariants, teardown, and SA-state parsing."""

from __future__ import annotations

import msgspec
import pytest

from netledger.libs.events.vpnaas import IkePolicy, IpsecPolicy, VpnConnectionIntent, VpnIntent
from netledger.services.advanced.vpn import model as M
from netledger.services.advanced.vpn import sas
from netledger.services.advanced.vpn.plan import plan, want
from tests.fakehost.vpn import apply as simulate

NS = "qrouter-r1"


def intent(*peers: str) -> VpnIntent:
    conns = tuple(VpnConnectionIntent(connection_id=f"c{i}", local_address="203.0.113.11", local_id="203.0.113.11",
                                      peer_address=f"203.0.113.{20 + i}", peer_id=f"203.0.113.{20 + i}", psk="k",
                                      local_cidrs=("10.1.0.0/24",), peer_cidrs=(p,),
                                      ike=IkePolicy(id="i", project_id="p"), ipsec=IpsecPolicy(id="s", project_id="p"))
                  for i, p in enumerate(peers))
    return VpnIntent(router_id="r1", vpnservice_ids=("s1",), connections=conns)


EMPTY = M.Seen(router_id="r1", netns=NS, netns_exists=True)
STATES = [
    EMPTY,
    M.Seen(router_id="r1", netns=NS, netns_exists=False),
    M.Seen(router_id="r1", netns=NS, netns_exists=True, dir_exists=True, files={"conns/old.conf": "x"}, pid=7,
           charon_ok=True, loaded_digest="old", ike_sas=frozenset({"old", "c0"}), blackholes=frozenset({"10.9.0.0/24"})),
    M.Seen(router_id="r1", netns=NS, netns_exists=True, pid=9, charon_ok=False),   # stale charon (moved netns)
]
WANTS = [None, want(intent("10.2.0.0/24"), NS, "/s/r1"), want(intent("10.2.0.0/24", "10.3.0.0/24"), NS, "/s/r1")]


@pytest.mark.parametrize("w", WANTS)
@pytest.mark.parametrize("s", STATES)
def test_converges_and_reapply_is_noop(w, s):
    ops = plan(w, s)
    after = simulate(s, ops)
    if w is not None and not s.netns_exists:
        assert ops == []           # the L3 worker has not made the namespace yet
        return
    assert plan(w, after) == [], [M.describe(o) for o in plan(w, after)]


def test_incremental_equals_from_scratch():
    """Going 1 -> 2 connections from a converged state ends where a fresh start ends."""
    one, two = WANTS[1], WANTS[2]
    via_one = simulate(simulate(EMPTY, plan(one, EMPTY)), [])
    via_one = simulate(via_one, plan(two, via_one))
    fresh = simulate(EMPTY, plan(two, EMPTY))
    strip = lambda s: msgspec.structs.replace(s, pid=0)  # noqa: E731 - a pid is not state
    assert strip(via_one) == strip(fresh)


def test_removed_connection_is_unloaded_and_terminated():
    s = simulate(EMPTY, plan(WANTS[2], EMPTY))
    s = msgspec.structs.replace(s, ike_sas=frozenset({"c0", "c1"}))
    ops = plan(WANTS[1], s)
    kinds = [type(o).__name__ for o in ops]
    assert kinds == ["DelFile", "DelBlackhole", "LoadAll", "Terminate"], kinds
    assert ops[-1].ike == "c1"


def test_teardown_stops_charon_by_pid_and_removes_only_ours():
    ops = plan(None, STATES[2])
    assert [type(o).__name__ for o in ops] == ["StopCharon", "DelBlackhole", "RemoveDir"]
    assert ops[0].pid == 7


def test_describe_never_carries_file_text():
    ops = plan(WANTS[1], EMPTY)
    assert all("text" not in M.describe(o) for o in ops)
    assert "k" not in repr(next(o for o in ops if isinstance(o, M.WriteFile)).__repr__())


RAW = ("list-sa event {c0 {uniqueid=1 version=2 state=ESTABLISHED local-host=203.0.113.11 child-sas "
       "{c0-1 {name=c0 state=INSTALLED local-ts=[10.1.0.0/24] remote-ts=[10.2.0.0/24]}}}}\n"
       "list-sa event {c1 {uniqueid=2 version=2 state=CONNECTING child-sas {}}}\n"
       "list-sa event {c1 {uniqueid=3 version=2 state=ESTABLISHED child-sas {c1-2 {name=c1 state=REKEYING}}}}\n")


def test_sa_states():
    states = sas.ike_states(RAW)
    assert sas.connection_up(states, "c0")
    assert not sas.connection_up(states, "c1")
    assert not sas.connection_up(states, "missing")
    assert sas.ike_states("") == {}
