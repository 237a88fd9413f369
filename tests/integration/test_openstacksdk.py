"""openstacksdk as a real client: networks, subnets, ports, tags, filters, pagination, errors."""

from __future__ import annotations

import uuid

import openstack
import pytest
from openstack import exceptions


@pytest.fixture
def conn(stack):
    """No Keystone: auth_type none and the API as the network endpoint."""
    c = openstack.connection.Connection(
        auth_type="none", auth={"endpoint": stack.api_urls[0]},
        network_endpoint_override=stack.api_urls[0], region_name="RegionOne")
    yield c
    c.close()


def test_network_subnet_port_lifecycle(conn):
    net = conn.network.create_network(name="sdk-net", description="via sdk")
    assert net.id and net.name == "sdk-net" and net.is_admin_state_up
    sub = conn.network.create_subnet(network_id=net.id, cidr="10.80.0.0/24", ip_version=4, name="sdk-sub",
                                     dns_nameservers=["8.8.8.8"])
    assert sub.gateway_ip == "10.80.0.1" and sub.allocation_pools == [{"start": "10.80.0.2", "end": "10.80.0.254"}]
    port = conn.network.create_port(network_id=net.id, name="sdk-port", device_owner="compute:nova")
    assert port.fixed_ips[0]["subnet_id"] == sub.id and port.status == "DOWN"
    assert conn.network.get_port(port.id).mac_address == port.mac_address
    assert conn.network.find_network("sdk-net", ignore_missing=False).id == net.id
    assert conn.network.get_network(net.id).subnet_ids == [sub.id]

    port = conn.network.update_port(port, name="renamed", binding_host_id="compute-1")
    assert port.name == "renamed" and port.binding_host_id == "compute-1"
    net = conn.network.update_network(net, name="sdk-net-2", mtu=1400)
    assert net.name == "sdk-net-2" and net.mtu == 1400
    sub = conn.network.update_subnet(sub, dns_nameservers=["1.1.1.1"])
    assert sub.dns_nameservers == ["1.1.1.1"]

    with pytest.raises(exceptions.ConflictException):
        conn.network.delete_subnet(sub, ignore_missing=False)
    conn.network.delete_port(port, ignore_missing=False)
    conn.network.delete_subnet(sub, ignore_missing=False)
    conn.network.delete_network(net, ignore_missing=False)
    assert conn.network.find_network(net.id) is None
    with pytest.raises(exceptions.ResourceNotFound):
        conn.network.get_network(net.id)


def test_tags_and_tag_filters(conn):
    marker = uuid.uuid4().hex[:8]
    a = conn.network.create_network(name=f"tag-a-{marker}")
    b = conn.network.create_network(name=f"tag-b-{marker}")
    conn.network.set_tags(a, ["red", marker])
    conn.network.set_tags(b, ["blue", marker])
    conn.network.add_tag(b, "red")
    assert sorted(conn.network.get_network(b.id).tags) == sorted(["blue", "red", marker])
    assert conn.network.check_tag(b, "blue")
    conn.network.remove_tag(b, "blue")
    assert sorted(n.name for n in conn.network.networks(tags=f"red,{marker}")) == [a.name, b.name]
    assert [n.name for n in conn.network.networks(any_tags="blue", tags=marker)] == []
    assert [n.name for n in conn.network.networks(not_tags="red", tags=marker)] == []
    conn.network.remove_all_tags(a)
    assert conn.network.get_network(a.id).tags == []
    for n in (a, b):
        conn.network.delete_network(n)


def test_filters_and_pagination(conn):
    net = conn.network.create_network(name="sdk-pages")
    conn.network.create_subnet(network_id=net.id, cidr="10.81.0.0/24", ip_version=4)
    ports = [conn.network.create_port(network_id=net.id, name=f"pp{i}", device_id=f"dev-{i % 2}")
             for i in range(7)]
    # The SDK follows ports_links page by page.
    paged = list(conn.network.ports(network_id=net.id, limit=2, sort_key="name", sort_dir="asc"))
    assert [p.name for p in paged] == [f"pp{i}" for i in range(7)]
    assert {p.name for p in conn.network.ports(network_id=net.id, device_id="dev-1")} == {"pp1", "pp3", "pp5"}
    ip = ports[0].fixed_ips[0]["ip_address"]
    assert [p.id for p in conn.network.ports(fixed_ips=[f"ip_address={ip}"])] == [ports[0].id]
    for p in ports:
        conn.network.delete_port(p)
    conn.network.delete_network(net)


def test_errors_map_to_sdk_exceptions(conn):
    net = conn.network.create_network(name="sdk-err")
    conn.network.create_subnet(network_id=net.id, cidr="10.82.0.0/24", ip_version=4)
    port = conn.network.create_port(network_id=net.id, fixed_ips=[{"ip_address": "10.82.0.9"}])
    with pytest.raises(exceptions.ConflictException):
        conn.network.create_port(network_id=net.id, fixed_ips=[{"ip_address": "10.82.0.9"}])
    with pytest.raises(exceptions.BadRequestException):
        conn.network.create_subnet(network_id=net.id, cidr="10.82.0.0/33", ip_version=4)
    with pytest.raises(exceptions.ResourceNotFound):
        conn.network.get_port(str(uuid.uuid4()))
    # If-Match through the SDK: a stale revision is refused.
    stale = port.revision_number
    conn.network.update_port(port, name="fresh")
    with pytest.raises(exceptions.HttpException) as info:
        conn.network.update_port(port.id, name="stale", if_revision=stale)
    assert info.value.status_code == 412
    conn.network.delete_port(port)
    conn.network.delete_network(net)


def test_bulk_create_via_sdk(conn):
    net = conn.network.create_network(name="sdk-bulk")
    conn.network.create_subnet(network_id=net.id, cidr="10.83.0.0/24", ip_version=4)
    created = conn.network._bulk_create(openstack.network.v2.port.Port,
                                        [{"network_id": net.id, "name": f"bk{i}"} for i in range(3)])
    assert sorted(p.name for p in created) == ["bk0", "bk1", "bk2"]
    for p in conn.network.ports(network_id=net.id):
        conn.network.delete_port(p)
    conn.network.delete_network(net)
