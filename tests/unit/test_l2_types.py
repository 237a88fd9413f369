"""Type drivers: segment validation, allocation order, MTUs, host capabilities."""

from __future__ import annotations

import itertools

import pytest

from netledger.errors import InvalidInput
from netledger.libs.events.intents import L2Network
from netledger.services.l2.config import AgentConfig, parse_bridge_mappings
from netledger.services.l2.desired import check_network
from netledger.services.l2.types import (
    TypeConfig, allocation_candidates, host_network_types, network_mtu, validate_segment,
)

CFG = TypeConfig(flat_networks=("physnet1",), vlan_ranges={"physnet1": ((100, 102),), "physnet2": ()},
                 tunnel_ranges={"vxlan": ((1000, 1002),), "gre": ((1, 2),)})

VALID = [
    ("local", None, None), ("flat", "physnet1", None), ("vlan", "physnet1", 100),
    ("vlan", "physnet2", 4094), ("vlan", None, None), ("vlan", "physnet1", None),
    ("vxlan", None, 5000), ("vxlan", None, None), ("gre", None, 2**32 - 1), ("geneve", None, 2**24 - 1),
]
INVALID = [
    ("local", "physnet1", None, "physical_network"), ("local", None, 3, "segmentation_id"),
    ("flat", None, None, "required"), ("flat", "physnet9", None, "unknown"), ("flat", "physnet1", 3, "segmentation_id"),
    ("vlan", "physnet9", 100, "unknown"), ("vlan", "physnet1", 0, "out of range"),
    ("vlan", "physnet1", 4095, "out of range"), ("vlan", None, 100, "requires physical_network"),
    ("vxlan", "physnet1", 10, "physical_network"), ("vxlan", None, 2**24, "out of range"),
    ("vxlan", None, 0, "out of range"), ("gre", None, 2**32, "out of range"), ("bogus", None, None, "not supported"),
]


@pytest.mark.parametrize("ntype,physnet,seg", VALID)
def test_valid_segments(ntype, physnet, seg):
    validate_segment(ntype, physnet, seg, CFG)


@pytest.mark.parametrize("ntype,physnet,seg,msg", INVALID)
def test_invalid_segments(ntype, physnet, seg, msg):
    with pytest.raises(InvalidInput, match=msg):
        validate_segment(ntype, physnet, seg, CFG)


def test_type_not_enabled_is_rejected():
    with pytest.raises(InvalidInput, match="not supported"):
        validate_segment("gre", None, 1, TypeConfig(type_drivers=("vxlan",)))


def test_allocation_candidates_are_deterministic_and_in_range():
    assert list(allocation_candidates("vlan", CFG)) == [("physnet1", 100), ("physnet1", 101), ("physnet1", 102)]
    assert list(allocation_candidates("vlan", CFG, "physnet2")) == []
    assert list(allocation_candidates("vxlan", CFG)) == [(None, 1000), (None, 1001), (None, 1002)]
    assert list(allocation_candidates("geneve", CFG)) == []
    assert list(allocation_candidates("flat", CFG)) == []
    big = TypeConfig(tunnel_ranges={"vxlan": ((1, 2**30),)})
    assert list(itertools.islice(allocation_candidates("vxlan", big), 2)) == [(None, 1), (None, 2)]


def test_mtus():
    assert network_mtu("vxlan") == 1450 and network_mtu("geneve") == 1450
    assert network_mtu("gre") == 1458 and network_mtu("vlan") == 1500 and network_mtu("vxlan", 9000) == 8950


def test_host_types_and_network_check():
    assert host_network_types("", {}) == ("local",)
    assert host_network_types("10.0.0.1", {"p": "br"}) == ("local", "flat", "vlan", "vxlan", "gre", "geneve")
    cfg = AgentConfig(host="h", tunnel_ip="", bridge_mappings={"physnet1": "br-ex"})
    assert check_network(L2Network(network_id="n", network_type="vlan", segmentation_id=5,
                                   physical_network="physnet1"), cfg) == ""
    assert "not supported" in check_network(L2Network(network_id="n", network_type="vxlan", segmentation_id=5), cfg)
    assert "no bridge mapping" in check_network(L2Network(network_id="n", network_type="flat",
                                                          physical_network="physnet2"), cfg)
    assert "segmentation" in check_network(L2Network(network_id="n", network_type="vlan",
                                                     physical_network="physnet1"), cfg)


def test_bridge_mappings_parse():
    assert parse_bridge_mappings("physnet1:br-ex, physnet2:br-x") == {"physnet1": "br-ex", "physnet2": "br-x"}
    assert parse_bridge_mappings("") == {}
    for bad in ("physnet1", "a:br,a:br2", "a:br,b:br", ":br"):
        with pytest.raises(ValueError):
            parse_bridge_mappings(bad)
