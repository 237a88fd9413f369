"""Plan one router's VPN against what is really there (pure).

Invariants (tests/unit/test_planner_invariants.py, against tests/fakehost): converges; re-planning a
converged router gives ``[]``; only what carries our mark is touched (our state
directory, our charon by pid, routes with our protocol number). Order: stop a charon
that is not ours to keep, files, blackholes (before any SA can be missing), charon,
load (which also unloads removed connections), terminate SAs of removed connections.
"""

from __future__ import annotations


from netledger.libs.events.vpnaas import VpnIntent

from . import model as M
from .render import conn_name, render_files


def want(intent: VpnIntent, netns: str, statedir: str) -> M.Want:
    return M.Want(router_id=intent.router_id, netns=netns, files=render_files(intent, statedir),
                  connections=frozenset(conn_name(c) for c in intent.connections),
                  peer_cidrs=frozenset(p for c in intent.connections for p in c.peer_cidrs))


def teardown(s: M.Seen) -> list[M.Op]:
    rid = s.router_id
    ops: list[M.Op] = [M.StopCharon(router_id=rid, pid=s.pid)] if s.pid else []
    if s.netns_exists:
        ops += [M.DelBlackhole(router_id=rid, netns=s.netns, cidr=c) for c in sorted(s.blackholes)]
    if s.dir_exists:
        ops.append(M.RemoveDir(router_id=rid))
    return ops


def plan(w: M.Want | None, s: M.Seen) -> list[M.Op]:
    if w is None:
        return teardown(s)
    if not s.netns_exists:
        return []          # the L3 worker owns the namespace; the worker retries later
    rid = w.router_id
    ops: list[M.Op] = []
    if s.pid and not s.charon_ok:
        ops.append(M.StopCharon(router_id=rid, pid=s.pid))
    ops += [M.DelFile(router_id=rid, path=p) for p in sorted(set(s.files) - set(w.files))]
    ops += [M.WriteFile(router_id=rid, path=p, text=t) for p, t in sorted(w.files.items())
            if s.files.get(p) != M.sha(t)]
    ops += [M.AddBlackhole(router_id=rid, netns=w.netns, cidr=c) for c in sorted(w.peer_cidrs - s.blackholes)]
    ops += [M.DelBlackhole(router_id=rid, netns=w.netns, cidr=c) for c in sorted(s.blackholes - w.peer_cidrs)]
    running = s.charon_ok
    if not running:
        ops.append(M.StartCharon(router_id=rid, netns=w.netns))
    if not running or s.loaded_digest != w.digest:
        ops.append(M.LoadAll(router_id=rid, digest=w.digest))
    ops += [M.Terminate(router_id=rid, ike=n) for n in sorted(s.ike_sas - w.connections) if running]
    return ops
