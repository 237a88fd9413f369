"""Neutron's Nova notification rules as a pure fold (services/nova/decide.py)."""

from __future__ import annotations

import uuid

import pytest

from netledger.libs.events.floatingip import FloatingIpAssociated, FloatingIpDisassociated
from netledger.libs.events.port import FixedIp, PortCreated, PortDeleted, PortUpdated
from netledger.services.nova.decide import NovaEvent, NovaState, on_fact, on_status

VM = str(uuid.uuid4())


def _state(owner="compute:nova", device=VM) -> NovaState:
    state = NovaState()
    on_fact(state, PortCreated(port_id="p", network_id="n", project_id="x", mac_address="fa:16:3e:00:00:01",
                               device_id=device, device_owner=owner))
    return state


@pytest.mark.parametrize("steps,expected", [
    (["ACTIVE"], [("network-vif-plugged", "completed")]),
    (["ERROR"], [("network-vif-plugged", "failed")]),
    (["BUILD", "ACTIVE"], [("network-vif-plugged", "completed")]),
    (["ACTIVE", "DOWN"], [("network-vif-plugged", "completed"), ("network-vif-unplugged", "completed")]),
    (["ACTIVE", "ACTIVE"], [("network-vif-plugged", "completed")]),
    (["ACTIVE", "ERROR"], [("network-vif-plugged", "completed")]),
    (["DOWN"], []),
])
def test_status_transitions(steps, expected):
    state = _state()
    got = [e for s in steps for e in on_status(state, "p", s)]
    assert [(e.name, e.status) for e in got] == expected
    assert all(e.tag == "p" and e.server_uuid == VM for e in got)


@pytest.mark.parametrize("owner,device", [("network:dhcp", VM), ("compute:nova", "dhcp-1"), ("", VM)])
def test_only_compute_ports_are_told(owner, device):
    state = _state(owner, device)
    assert on_status(state, "p", "ACTIVE") == []
    assert on_fact(state, PortDeleted(port_id="p", network_id="n")) == []


def test_address_change_floating_ip_and_delete():
    state = _state()
    changed = [NovaEvent(name="network-changed", server_uuid=VM, tag="p")]
    assert on_fact(state, PortUpdated(port_id="p", name="renamed")) == []
    assert on_fact(state, PortUpdated(port_id="p", fixed_ips=(FixedIp(subnet_id="s", ip_address="10.0.0.9"),))) \
        == changed
    assert on_fact(state, FloatingIpAssociated(floatingip_id="f", port_id="p", fixed_ip_address="10.0.0.9",
                                               router_id="r")) == changed
    assert on_fact(state, FloatingIpDisassociated(floatingip_id="f")) == changed
    assert on_fact(state, FloatingIpDisassociated(floatingip_id="f")) == []
    assert on_fact(state, PortDeleted(port_id="p", network_id="n")) == \
        [NovaEvent(name="network-vif-deleted", server_uuid=VM, tag="p")]
    assert on_status(state, "p", "ACTIVE") == []      # forgotten with the port


def test_device_set_by_update_makes_a_compute_port():
    state = _state(owner="", device="")
    on_fact(state, PortUpdated(port_id="p", device_id=VM, device_owner="compute:az1"))
    assert [e.name for e in on_status(state, "p", "ACTIVE")] == ["network-vif-plugged"]
