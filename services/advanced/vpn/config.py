"""The VPN agent's configuration: one frozen value built once from the command line."""

from __future__ import annotations

import os

import msgspec

ROUTE_PROTO = 187        # our blackhole routes carry this protocol number (the L3 worker uses 186)
CHARON = "/usr/lib/ipsec/charon"


class VpnConfig(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    netns_prefix: str = ""            # as the L3 agent's: router namespaces are <prefix>qrouter-<id>
    state_dir: str = "/var/lib/netledger/vpn"
    status_interval: float = 2.0      # how often SA states are read from each charon
    resync_interval: float = 10.0
    heartbeat_interval: float = 10.0

    def netns(self, router_id: str) -> str:
        return f"{self.netns_prefix}qrouter-{router_id}"

    def statedir(self, router_id: str) -> str:
        return os.path.join(self.state_dir, router_id)
