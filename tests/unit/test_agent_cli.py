"""Every agent command parses through the one CLI path into its config struct."""

from __future__ import annotations

import pytest

from netledger.cli import build_parser
from netledger.libs.agent_cli import config_from
from netledger.services.advanced.lb.config import LbConfig
from netledger.services.advanced.vpn.config import VpnConfig
from netledger.services.dhcp.config import DhcpAgentConfig
from netledger.services.l2.config import AgentConfig
from netledger.services.l2.mechanisms import canonical
from netledger.services.l2.config import parse_bridge_mappings
from netledger.services.l3.config import L3Config

CASES = [
    (["l3-agent", "--host", "h1", "--host-netns", "hn", "--netns-prefix", "p-", "--resync-interval", "3"],
     L3Config, {}, L3Config(host="h1", host_netns="hn", netns_prefix="p-", resync_interval=3.0)),
    (["lb-agent", "--host", "h1", "--state-dir", "/tmp/x", "--heartbeat-interval", "2.5"],
     LbConfig, {}, LbConfig(host="h1", state_dir="/tmp/x", heartbeat_interval=2.5)),
    (["vpn-agent", "--host", "h1", "--status-interval", "0.5", "--netns-prefix", "v-"],
     VpnConfig, {}, VpnConfig(host="h1", status_interval=0.5, netns_prefix="v-")),
    (["dhcp-agent", "--host", "h1", "--bridge", "br-x", "--metadata-backend", "http://127.0.0.1:1"],
     DhcpAgentConfig, {}, DhcpAgentConfig(host="h1", bridge="br-x", metadata_backend="http://127.0.0.1:1")),
    (["l2-agent", "--host", "h1", "--backend", "lb", "--bridge-mappings", "physnet1:br-ex", "--tunnel-ip", "10.0.0.1"],
     AgentConfig, {"backend": canonical, "bridge_mappings": parse_bridge_mappings},
     AgentConfig(host="h1", backend=canonical("lb"), bridge_mappings={"physnet1": "br-ex"}, tunnel_ip="10.0.0.1")),
]


@pytest.mark.parametrize("argv,cls,convert,want", CASES, ids=[c[0][0] for c in CASES])
def test_agent_flags_build_the_config(argv, cls, convert, want):
    args = build_parser().parse_args(argv)
    assert config_from(cls, args, **convert) == want
    assert args.nats == "nats://127.0.0.1:4222" and args.prefix == "nl"


def test_host_is_required():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["l3-agent"])
