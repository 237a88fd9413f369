"""The DHCP agent's configuration: one frozen value, built once from the command line."""

from __future__ import annotations

import sys

import msgspec

from netledger.libs.events.subjects import host_token

from .plan import Layout

OWNER = "netledger-dhcp"            # external_ids:netledger-owner of the ports we plug


class DhcpAgentConfig(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    ovsdb: str = "unix:/var/run/openvswitch/db.sock"
    host_netns: str = ""                   # where ovs-vswitchd runs ("" = ours)
    bridge: str = "br-int"
    state_dir: str = ""                    # default: /var/lib/netledger/dhcp/<host>
    netns_prefix: str = ""                 # namespaces are <prefix>qdhcp-<network>
    metadata_backend: str = ""             # "" = built-in responder
    resync_interval: float = 10.0
    heartbeat_interval: float = 10.0
    python: str = sys.executable           # runs the metadata proxy and the release helper

    @property
    def root(self) -> str:
        return self.state_dir or f"/var/lib/netledger/dhcp/{host_token(self.host)}"

    def layout(self, network_id: str, port_id: str = "") -> Layout:
        return Layout(network_id=network_id, netns=f"{self.netns_prefix}qdhcp-{network_id}",
                      dir=f"{self.root}/{network_id}", interface=interface_name(port_id) if port_id else "",
                      python=self.python, backend_url=self.metadata_backend)


def interface_name(port_id: str) -> str:
    """Neutron's: ``tap`` + 11 characters of the port id (15 = IFNAMSIZ - 1)."""
    return f"tap{port_id[:11]}"
