"""The L3 agent's configuration: one frozen value, built once from the command line."""

from __future__ import annotations

import msgspec

OWNER_KEY = "netledger-owner"        # Interface external_ids: what we created
OWNER_VALUE = "netledger-l3"
ROUTER_KEY = "netledger-router"      # Interface external_ids: the router it belongs to
ROUTE_PROTO = 186                    # our routes carry this protocol number: we touch no others
NFT_TABLE = "netledger_l3"           # the private nft table in each router namespace


class L3Config(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    ovsdb: str = "unix:/var/run/openvswitch/db.sock"
    integration_bridge: str = "br-int"
    host_netns: str = ""             # namespace ovs-vswitchd runs in ("" = ours); tests: the simulated host
    netns_prefix: str = ""           # router namespaces are <prefix>qrouter-<id> (tests: the run prefix)
    resync_interval: float = 10.0    # cheap full observe: repairs tampering
    heartbeat_interval: float = 10.0

    def netns(self, router_id: str) -> str:
        return f"{self.netns_prefix}qrouter-{router_id}"

    def router_of_netns(self, name: str) -> str | None:
        head = f"{self.netns_prefix}qrouter-"
        return name[len(head):] if name.startswith(head) else None


def port_name(kind: str, port_id: str) -> str:
    """qr-<11> for interfaces, qg-<11> for the gateway (IFNAMSIZ is 15)."""
    return f"{kind}-{port_id[:11]}"
