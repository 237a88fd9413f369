"""Flow normal form: rendered flows equal what ovs-ofctl dumps back (golden lines)."""

from __future__ import annotations

from netledger.libs.events.intents import L2Network
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.ovs.flows import flow_key, normalize, render_flows

# Captured from `ovs-ofctl --names dump-flows --no-stats` (OVS 3.1) after our bundle adds.
GOLDEN = {
    ' cookie=0x4e4c4c3200000001, priority=1,in_port="patch-int" actions=resubmit(,2)':
        "table=0,priority=1,in_port=patch-int actions=resubmit(,2)",
    ' cookie=0x4e4c4c3200000001, table=2, priority=1,dl_vlan=1 actions=strip_vlan,'
    'load:0x64->NXM_NX_TUN_ID[],output:"vxlan-0afa000c"':
        "table=2,priority=1,dl_vlan=1 actions=strip_vlan,load:0x64->NXM_NX_TUN_ID[],output:vxlan-0afa000c",
    ' cookie=0x4e4c4c3200000001, table=4, priority=1,tun_id=0x64 actions=mod_vlan_vid:1,output:"patch-int"':
        "table=4,priority=1,tun_id=0x64 actions=mod_vlan_vid:1,output:patch-int",
    ' cookie=0x4e4c4c3200000001, priority=3,in_port="int-br-ex",vlan_tci=0x0000/0x1fff '
    'actions=mod_vlan_vid:6,NORMAL':
        "table=0,priority=3,in_port=int-br-ex,vlan_tci=0x0000/0x1fff actions=mod_vlan_vid:6,NORMAL",
    " cookie=0x4e4c4c3200000001, priority=0 actions=NORMAL": "table=0,priority=0 actions=NORMAL",
}


def test_dump_lines_normalize_to_golden():
    for dump, want in GOLDEN.items():
        assert normalize(dump) == want
        assert normalize(want) == want, "normalize is idempotent"


def test_match_order_does_not_matter_and_set_tunnel_is_canonical():
    a = normalize("table=2,dl_vlan=1,priority=1,actions=strip_vlan,set_tunnel:100,output:x")
    b = normalize("priority=1,table=2,dl_vlan=1 actions=strip_vlan,set_field:0x64->tun_id,output:x")
    assert a == b and flow_key(a) == "table=2,priority=1,dl_vlan=1"


def test_rendered_flows_for_every_type():
    cfg = AgentConfig(host="h", tunnel_ip="10.250.0.11", bridge_mappings={"physnet1": "br-ex"})
    nets = {
        "a": L2Network(network_id="a", network_type="vxlan", segmentation_id=100, peers=("10.250.0.12",)),
        "b": L2Network(network_id="b", network_type="vlan", segmentation_id=200, physical_network="physnet1"),
        "c": L2Network(network_id="c", network_type="flat", physical_network="physnet1"),
        "d": L2Network(network_id="d", network_type="gre", segmentation_id=100),
    }
    flows = render_flows(cfg, nets, {"a": 1, "b": 2, "c": 3, "d": 4}, {"br-ex"})
    assert set(GOLDEN.values()) - flows["br-tun"] - flows["br-int"] == {
        "table=0,priority=3,in_port=int-br-ex,vlan_tci=0x0000/0x1fff actions=mod_vlan_vid:6,NORMAL"}
    assert "table=0,priority=3,dl_vlan=200,in_port=int-br-ex actions=mod_vlan_vid:2,NORMAL" in flows["br-int"]
    assert "table=0,priority=4,dl_vlan=2,in_port=phy-br-ex actions=mod_vlan_vid:200,NORMAL" in flows["br-ex"]
    assert "table=0,priority=4,dl_vlan=3,in_port=phy-br-ex actions=strip_vlan,NORMAL" in flows["br-ex"]
    assert "table=3,priority=1,tun_id=0x64 actions=mod_vlan_vid:4,output:patch-int" in flows["br-tun"]
    # gre net has no peers: it receives but floods nowhere
    assert not any("dl_vlan=4" in f for f in flows["br-tun"])
