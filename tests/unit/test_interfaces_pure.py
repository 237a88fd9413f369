"""Pure parts of the gRPC and bus-command interfaces: routing, status mapping, watch filter."""

from __future__ import annotations

import grpc
import pytest

from netledger.libs.events.envelope import Actor, wrap
from netledger.libs.events.network import NetworkCreated
from netledger.libs.events.port import PortCreated, PortDeleted
from netledger.services.grpc_api.changes import WatchFilter, change_fields
from netledger.services.grpc_api.convert import from_struct, status_code, to_struct
from netledger.services.natscmd.route import BadCommand, headers_for, route


@pytest.mark.parametrize("subject,body,method,path", [
    ("nl.cmd.ports.create", b'{"port": {}}', "POST", "/v2.0/ports"),
    ("nl.cmd.ports.list", b'{"network_id": ["a", "b"], "name": "x"}', "GET",
     "/v2.0/ports?network_id=a&network_id=b&name=x"),
    ("nl.cmd.ports.list", b"", "GET", "/v2.0/ports"),
    ("nl.cmd.ports.get.p1", b"", "GET", "/v2.0/ports/p1"),
    ("nl.cmd.ports.update.p1", b'{"port": {"name": "n"}}', "PUT", "/v2.0/ports/p1"),
    ("nl.cmd.ports.delete.p1", b"", "DELETE", "/v2.0/ports/p1"),
    ("nl.cmd.port.bind.p1", b'{"port": {"binding:host_id": "h"}}', "PUT", "/v2.0/ports/p1"),
    ("nl.cmd.routers.add_router_interface.r1", b'{"subnet_id": "s"}', "PUT", "/v2.0/routers/r1/add_router_interface"),
])
def test_route(subject, body, method, path):
    r = route("nl", subject, body)
    assert (r.method, r.path) == (method, path)
    if method in ("POST", "PUT"):
        assert r.body is not None


@pytest.mark.parametrize("subject,body,status", [
    ("nl.cmd.ports", b"", 404), ("other.cmd.ports.create", b"", 404), ("nl.cmd.a.b.c.d", b"", 404),
    ("nl.cmd.ports.create", b"[1]", 400), ("nl.cmd.ports.create", b"{", 400),
])
def test_route_rejects(subject, body, status):
    with pytest.raises(BadCommand) as err:
        route("nl", subject, body)
    assert err.value.status == status


def test_msg_id_is_the_idempotency_key():
    assert headers_for({"Nats-Msg-Id": "k", "X-Project-Id": "p", "Other": "x"}) == \
        {"X-Idempotency-Key": "k", "X-Project-Id": "p"}
    assert headers_for({"Nats-Msg-Id": "k", "X-Idempotency-Key": "own"}) == {"X-Idempotency-Key": "own"}


@pytest.mark.parametrize("http,etype,method,code", [
    (404, "PortNotFound", "GET", grpc.StatusCode.NOT_FOUND),
    (409, "IpAddressAlreadyAllocated", "POST", grpc.StatusCode.ALREADY_EXISTS),
    (409, "MacAddressInUse", "POST", grpc.StatusCode.ALREADY_EXISTS),
    (409, "NetworkInUse", "DELETE", grpc.StatusCode.FAILED_PRECONDITION),
    (412, "PreconditionFailed", "PUT", grpc.StatusCode.ABORTED),
    (403, "PolicyNotAuthorized", "POST", grpc.StatusCode.PERMISSION_DENIED),
    (400, "InvalidInput", "POST", grpc.StatusCode.INVALID_ARGUMENT),
    (401, "", "GET", grpc.StatusCode.UNAUTHENTICATED),
    (503, "", "POST", grpc.StatusCode.UNAVAILABLE),
    (500, "", "POST", grpc.StatusCode.INTERNAL),
])
def test_status_code(http, etype, method, code):
    assert status_code(http, etype, method) == code


def test_struct_round_trip_keeps_integers():
    body = {"ip_version": 4, "mtu": 1450.5, "pools": [{"n": 2}], "ok": True, "none": None}
    assert from_struct(to_struct(body)) == body


def _port_created(pid: str, project: str):
    return wrap(PortCreated(port_id=pid, network_id="n", project_id=project, mac_address="fa:16:3e:00:00:01"),
                kind="port", aggregate_id=pid, actor=Actor(project_id="admin", is_admin=True))


def test_watch_filter_learns_owners_from_creation_facts():
    filt = WatchFilter(kinds=frozenset({"port"}), project="p1")
    net = wrap(NetworkCreated(network_id="n", project_id="p1", name="x"), kind="network", aggregate_id="n")
    assert filt.admits(net) == (False, "p1")                       # kind filtered out
    assert filt.admits(_port_created("a", "p1")) == (True, "p1")
    assert filt.admits(_port_created("b", "p2")) == (False, "p2")
    deleted = wrap(PortDeleted(port_id="a", network_id="n"), kind="port", aggregate_id="a",
                   actor=Actor(project_id="admin", is_admin=True))
    assert filt.admits(deleted) == (True, "p1")                    # owner remembered, not the admin actor
    fields = change_fields(deleted, 7, "p1")
    assert fields["seq"] == 7 and fields["type"] == "PortDeleted" and fields["event"]["port_id"] == "a"
