"""Facts about load balancers (Octavia v2), one aggregate per load balancer.

Subject ``subjects.aggregate('loadbalancer', lb_id)``. The load balancer owns its
listeners, pools, members, health monitors and L7 policies/rules: every change to any
of them is one fact on the LB subject, published expecting the subject's last
sequence, so the whole tree changes serially and cross-references (a listener's
default pool, a policy's redirect pool) are checked against one consistent state.
Child facts carry the child's whole new spec (created == updated for the fold); the
fold stamps ``created_at``/``updated_at``/``rev`` from the envelope.

The VIP is a real port: ``LoadBalancerCreated`` lands in one atomic batch with the
VIP's ``PortCreated`` (and its address claims). ``LoadBalancerScheduled`` comes from
topology's scheduler, never from the API. Workers report on the status stream
(``LoadBalancerStatusReported``): the revision they applied and HAProxy's health.
"""

from __future__ import annotations

from .base import UNSET, Event, Struct, UnsetType

LB_BUCKET = "NL_LB"


# --- the aggregate's parts ---------------------------------------------------------

class Stamp(Struct, frozen=True, kw_only=True):
    """Filled by the fold: timestamps and the LB revision of the last change."""

    created_at: str = ""
    updated_at: str = ""
    rev: int = 0


class SessionPersistence(Struct, frozen=True, kw_only=True):
    type: str                      # SOURCE_IP | HTTP_COOKIE | APP_COOKIE
    cookie_name: str = ""


class LoadBalancerSpec(Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    name: str = ""
    description: str = ""
    admin_state_up: bool = True
    vip_port_id: str = ""
    vip_address: str = ""
    vip_subnet_id: str = ""
    vip_network_id: str = ""
    provider: str = "haproxy"
    tags: tuple[str, ...] = ()
    stamp: Stamp = Stamp()


class ListenerSpec(Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    protocol: str                  # HTTP | TCP
    protocol_port: int
    name: str = ""
    description: str = ""
    admin_state_up: bool = True
    connection_limit: int = -1
    default_pool_id: str = ""
    timeout_client_data: int = 50000
    timeout_member_connect: int = 5000
    timeout_member_data: int = 50000
    timeout_tcp_inspect: int = 0
    allowed_cidrs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    stamp: Stamp = Stamp()


class PoolSpec(Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    protocol: str
    lb_algorithm: str              # ROUND_ROBIN | LEAST_CONNECTIONS | SOURCE_IP
    name: str = ""
    description: str = ""
    admin_state_up: bool = True
    listener_id: str = ""          # the listener it was created for (default pool)
    session_persistence: SessionPersistence | None = None
    tags: tuple[str, ...] = ()
    stamp: Stamp = Stamp()


class MemberSpec(Struct, frozen=True, kw_only=True):
    id: str
    pool_id: str
    project_id: str
    address: str
    protocol_port: int
    name: str = ""
    weight: int = 1
    backup: bool = False
    admin_state_up: bool = True
    subnet_id: str = ""
    monitor_address: str = ""
    monitor_port: int = 0
    tags: tuple[str, ...] = ()
    stamp: Stamp = Stamp()


class HealthMonitorSpec(Struct, frozen=True, kw_only=True):
    id: str
    pool_id: str
    project_id: str
    type: str                      # HTTP | TCP | PING
    delay: int
    timeout: int
    max_retries: int
    max_retries_down: int = 3
    name: str = ""
    http_method: str = "GET"
    url_path: str = "/"
    expected_codes: str = "200"
    admin_state_up: bool = True
    tags: tuple[str, ...] = ()
    stamp: Stamp = Stamp()


class L7PolicySpec(Struct, frozen=True, kw_only=True):
    id: str
    listener_id: str
    project_id: str
    action: str                    # REDIRECT_TO_POOL | REDIRECT_TO_URL | REJECT
    position: int = 1
    name: str = ""
    description: str = ""
    redirect_pool_id: str = ""
    redirect_url: str = ""
    redirect_http_code: int = 302
    admin_state_up: bool = True
    tags: tuple[str, ...] = ()
    stamp: Stamp = Stamp()


class L7RuleSpec(Struct, frozen=True, kw_only=True):
    id: str
    policy_id: str
    project_id: str
    type: str                      # PATH | HOST_NAME | HEADER | COOKIE
    compare_type: str              # EQUAL_TO | STARTS_WITH | ENDS_WITH | CONTAINS | REGEX
    value: str
    key: str = ""
    invert: bool = False
    admin_state_up: bool = True
    tags: tuple[str, ...] = ()
    stamp: Stamp = Stamp()


class LbState(Struct, frozen=True, kw_only=True):
    """The whole aggregate as the fold keeps it (and as deciders read it)."""

    lb: LoadBalancerSpec
    listeners: tuple[ListenerSpec, ...] = ()
    pools: tuple[PoolSpec, ...] = ()
    members: tuple[MemberSpec, ...] = ()
    healthmonitors: tuple[HealthMonitorSpec, ...] = ()
    l7policies: tuple[L7PolicySpec, ...] = ()
    l7rules: tuple[L7RuleSpec, ...] = ()
    revision: int = 0
    host: str = ""


# --- facts -------------------------------------------------------------------------

class LoadBalancerCreated(Event, tag="LoadBalancerCreated", frozen=True, kw_only=True):
    loadbalancer: LoadBalancerSpec


class LoadBalancerUpdated(Event, tag="LoadBalancerUpdated", frozen=True, kw_only=True):
    lb_id: str
    name: str | UnsetType = UNSET
    description: str | UnsetType = UNSET
    admin_state_up: bool | UnsetType = UNSET
    tags: tuple[str, ...] | UnsetType = UNSET


class LoadBalancerDeleted(Event, tag="LoadBalancerDeleted", frozen=True, kw_only=True):
    lb_id: str
    vip_port_id: str = ""
    cascade: bool = False


class LoadBalancerScheduled(Event, tag="LoadBalancerScheduled", frozen=True, kw_only=True):
    """The LB worker (host) that runs this load balancer; "" = no live worker."""

    lb_id: str
    host: str
    previous_host: str = ""


class ListenerSet(Event, tag="ListenerSet", frozen=True, kw_only=True):
    """A listener created or changed (its whole new spec)."""

    lb_id: str
    listener: ListenerSpec


class ListenerDeleted(Event, tag="ListenerDeleted", frozen=True, kw_only=True):
    lb_id: str
    listener_id: str


class PoolSet(Event, tag="PoolSet", frozen=True, kw_only=True):
    lb_id: str
    pool: PoolSpec


class PoolDeleted(Event, tag="PoolDeleted", frozen=True, kw_only=True):
    """Its members and health monitor go with it."""

    lb_id: str
    pool_id: str


class MembersSet(Event, tag="MembersSet", frozen=True, kw_only=True):
    """Members created or changed (one, or several from a batch update)."""

    lb_id: str
    members: tuple[MemberSpec, ...]


class MembersReplaced(Event, tag="MembersReplaced", frozen=True, kw_only=True):
    """The batch update: the pool's members are exactly these afterwards."""

    lb_id: str
    pool_id: str
    members: tuple[MemberSpec, ...]


class MembersDeleted(Event, tag="MembersDeleted", frozen=True, kw_only=True):
    lb_id: str
    member_ids: tuple[str, ...]


class HealthMonitorSet(Event, tag="HealthMonitorSet", frozen=True, kw_only=True):
    lb_id: str
    healthmonitor: HealthMonitorSpec


class HealthMonitorDeleted(Event, tag="HealthMonitorDeleted", frozen=True, kw_only=True):
    lb_id: str
    healthmonitor_id: str


class L7PolicySet(Event, tag="L7PolicySet", frozen=True, kw_only=True):
    lb_id: str
    l7policy: L7PolicySpec


class L7PolicyDeleted(Event, tag="L7PolicyDeleted", frozen=True, kw_only=True):
    lb_id: str
    l7policy_id: str


class L7RuleSet(Event, tag="L7RuleSet", frozen=True, kw_only=True):
    lb_id: str
    l7rule: L7RuleSpec


class L7RuleDeleted(Event, tag="L7RuleDeleted", frozen=True, kw_only=True):
    lb_id: str
    l7rule_id: str


# --- worker reports (status stream) --------------------------------------------------

class OperatingStatus(Struct, frozen=True, kw_only=True):
    id: str
    status: str                    # ONLINE | DEGRADED | ERROR | OFFLINE | NO_MONITOR


class LoadBalancerStatusReported(Event, tag="LoadBalancerStatusReported", frozen=True, kw_only=True):
    """``provisioning`` ACTIVE: HAProxy runs the config of ``revision`` on ``host``;
    ERROR: applying it failed. ``operating`` is HAProxy's health of every object."""

    lb_id: str
    host: str
    revision: int
    provisioning: str = "ACTIVE"
    operating: tuple[OperatingStatus, ...] = ()
    detail: str = ""


# --- intents (KV bucket NL_LB, key <host_token>.lb.<lb_id>) --------------------------

class VipPort(Struct, frozen=True, kw_only=True):
    port_id: str
    network_id: str
    mac_address: str
    cidr: str                      # "10.0.0.5/24"
    gateway_ip: str = ""
    mtu: int = 1450


class LbIntent(Struct, frozen=True, kw_only=True):
    """What one host's LB worker must run for one load balancer."""

    lb_id: str
    revision: int
    vip: VipPort
    state: LbState


def lb_key(host_token: str, lb_id: str) -> str:
    return f"{host_token}.lb.{lb_id}"


EVENTS = (LoadBalancerCreated, LoadBalancerUpdated, LoadBalancerDeleted, LoadBalancerScheduled,
          ListenerSet, ListenerDeleted, PoolSet, PoolDeleted, MembersSet, MembersReplaced, MembersDeleted,
          HealthMonitorSet, HealthMonitorDeleted, L7PolicySet, L7PolicyDeleted, L7RuleSet, L7RuleDeleted,
          LoadBalancerStatusReported)
