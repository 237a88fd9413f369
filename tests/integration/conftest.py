"""A real netledger (topology + API subprocesses) on the session's nats-server."""

from __future__ import annotations

import pytest

from tests.support import Client, destroy_stack, start_stack


@pytest.fixture(scope="session")
def stack(nats_server):
    s = start_stack(nats_server)
    try:
        yield s
    finally:
        destroy_stack(s)


@pytest.fixture
def api(stack) -> Client:
    return stack.api


@pytest.fixture
def network(api):
    net = api.create("network", name="it-net")
    yield net
    for port in api.get(f"/v2.0/ports?network_id={net['id']}")[1]["ports"]:
        api.delete(f"/v2.0/ports/{port['id']}")
    api.delete(f"/v2.0/networks/{net['id']}")


@pytest.fixture
def subnet(api, network):
    return api.create("subnet", network_id=network["id"], cidr="10.10.0.0/24", ip_version=4, name="it-sub")
