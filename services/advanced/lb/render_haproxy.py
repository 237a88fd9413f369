"""haproxy.cfg for one load balancer, rendered as pure text from its intent.

Equal intents give byte-equal text (the worker compares text: unchanged means
nothing to do). The first line carries our mark, the LB id and the revision. Names
in the file are object ids, so ``show stat`` rows map straight back to listeners
(frontends), pools (backends) and members (servers). Octavia semantics kept:
listeners are frontends on VIP:port, a pool is a backend, L7 rules of a policy are
ANDed, policies apply in position order (deny, then redirects, then pool switches,
which is also HAProxy's own evaluation order). PING monitors are connect checks
(HAProxy has no ICMP check).
"""

from __future__ import annotations

import re

from netledger.libs.events import octavia as O

from .config import MARK

ALGORITHMS = {"ROUND_ROBIN": "roundrobin", "LEAST_CONNECTIONS": "leastconn", "SOURCE_IP": "source"}
FETCH = {"PATH": "path", "HOST_NAME": "hdr(host)", "HEADER": "req.hdr({key})", "COOKIE": "req.cook({key})"}
MATCH = {"EQUAL_TO": "str", "STARTS_WITH": "beg", "ENDS_WITH": "end", "CONTAINS": "sub", "REGEX": "reg"}


def render(intent: O.LbIntent, run_dir: str) -> str:
    s = intent.state
    vip = intent.vip.cidr.split("/")[0]
    lines = [f"{MARK} {intent.lb_id} revision {intent.revision} (generated; edits are overwritten)",
             *_global(run_dir)]
    for li in s.listeners:
        lines += ["", *_frontend(li, s, vip)]
    for pool in s.pools:
        lines += ["", *_backend(pool, s)]
    return "\n".join(lines) + "\n"


def _global(run_dir: str) -> list[str]:
    return ["global", "    daemon", f"    pidfile {run_dir}/haproxy.pid",
            f"    stats socket {run_dir}/haproxy.sock mode 600 level admin", "    maxconn 4096", "",
            "defaults", "    option redispatch", "    retries 3", "    timeout http-request 10s",
            "    timeout queue 1m", "    timeout connect 5s", "    timeout client 50s", "    timeout server 50s",
            "    timeout check 10s"]


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _frontend(li: O.ListenerSpec, s: O.LbState, vip: str) -> list[str]:
    mode = "http" if li.protocol == "HTTP" else "tcp"
    out = [f"frontend {li.id}", f"    mode {mode}", f"    bind {vip}:{li.protocol_port}",
           f"    timeout client {li.timeout_client_data}ms"]
    if not li.admin_state_up:
        out.append("    disabled")
    if li.connection_limit > 0:
        out.append(f"    maxconn {li.connection_limit}")
    if li.allowed_cidrs:
        out += [f"    acl allowed_cidr src {' '.join(li.allowed_cidrs)}",
                "    tcp-request connection reject unless allowed_cidr"]
    if mode == "tcp" and li.timeout_tcp_inspect > 0:
        out.append(f"    tcp-request inspect-delay {li.timeout_tcp_inspect}ms")
    if mode == "http":
        out += _l7(li, s)
    pool = next((p for p in s.pools if p.id == li.default_pool_id), None)
    if pool is not None:
        out.append(f"    default_backend {pool.id}")
    return out


def _l7(li: O.ListenerSpec, s: O.LbState) -> list[str]:
    pools = {p.id for p in s.pools}
    policies = sorted((p for p in s.l7policies if p.listener_id == li.id and p.admin_state_up),
                      key=lambda p: (p.position, p.id))
    acls, deny, redirect, switch = [], [], [], []
    for p in policies:
        rules = [r for r in s.l7rules if r.policy_id == p.id and r.admin_state_up]
        if not rules:
            continue          # Octavia: a policy without rules never matches
        for r in rules:
            fetch = FETCH[r.type].format(key=r.key)
            acls.append(f"    acl {r.id} {fetch} -m {MATCH[r.compare_type]} {_quote(r.value)}")
        cond = " ".join(("!" if r.invert else "") + r.id for r in rules)
        if p.action == "REJECT":
            deny.append(f"    http-request deny if {cond}")
        elif p.action == "REDIRECT_TO_URL":
            redirect.append(f"    redirect location {_quote(p.redirect_url)} code {p.redirect_http_code} if {cond}")
        elif p.redirect_pool_id in pools:
            switch.append(f"    use_backend {p.redirect_pool_id} if {cond}")
    return acls + deny + redirect + switch


def expect(codes: str) -> str:
    """expected_codes ("200", "200,202", "200-204") as an http-check expectation."""
    if re.fullmatch(r"\d{3}", codes):
        return f"status {codes}"
    wanted: list[str] = []
    for part in codes.split(","):
        lo, _, hi = part.partition("-")
        wanted += [str(c) for c in range(int(lo), int(hi or lo) + 1)]
    return f"rstatus ^({'|'.join(wanted)})$"


def _timeouts(pool: O.PoolSpec, s: O.LbState) -> list[str]:
    li = next((x for x in s.listeners if x.default_pool_id == pool.id), None)
    if li is None:
        return []
    return [f"    timeout connect {li.timeout_member_connect}ms", f"    timeout server {li.timeout_member_data}ms"]


def _persistence(pool: O.PoolSpec) -> list[str]:
    sp = pool.session_persistence
    if sp is None:
        return []
    if sp.type == "SOURCE_IP":
        return ["    stick-table type ip size 10k", "    stick on src"]
    if sp.type == "HTTP_COOKIE":
        return ["    cookie SRV insert indirect nocache"]
    return ["    stick-table type string len 64 size 10k", f"    stick store-response res.cook({sp.cookie_name})",
            f"    stick match req.cook({sp.cookie_name})"]


def _monitor(hm: O.HealthMonitorSpec | None) -> list[str]:
    if hm is None or not hm.admin_state_up:
        return []
    out = []
    if hm.type == "HTTP":
        out += [f"    option httpchk {hm.http_method} {hm.url_path}", f"    http-check expect {expect(hm.expected_codes)}"]
    out += [f"    timeout check {hm.timeout}s",
            f"    default-server inter {hm.delay}s fall {hm.max_retries_down} rise {hm.max_retries}"]
    return out


def _backend(pool: O.PoolSpec, s: O.LbState) -> list[str]:
    hm = next((h for h in s.healthmonitors if h.pool_id == pool.id), None)
    checked = hm is not None and hm.admin_state_up
    out = [f"backend {pool.id}", f"    mode {'http' if pool.protocol == 'HTTP' else 'tcp'}",
           f"    balance {ALGORITHMS[pool.lb_algorithm]}", *_timeouts(pool, s), *_persistence(pool), *_monitor(hm)]
    cookie = pool.session_persistence is not None and pool.session_persistence.type == "HTTP_COOKIE"
    for m in s.members:
        if m.pool_id != pool.id:
            continue
        words = [f"    server {m.id} {m.address}:{m.protocol_port} weight {m.weight}"]
        if checked:
            words.append("check")
            if m.monitor_address or m.monitor_port:
                words += [f"addr {m.monitor_address}"] if m.monitor_address else []
                words += [f"port {m.monitor_port}"] if m.monitor_port else []
        if m.backup:
            words.append("backup")
        if cookie:
            words.append(f"cookie {m.id}")
        if pool.protocol == "PROXY":
            words.append("send-proxy")
        if not (m.admin_state_up and pool.admin_state_up):
            words.append("disabled")
        out.append(" ".join(words))
    return out
