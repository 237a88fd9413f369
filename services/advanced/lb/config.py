"""The LB agent's configuration: one frozen value, built once from the command line."""

from __future__ import annotations

import os

import msgspec

OWNER_KEY = "netledger-owner"        # OVS Interface external_ids: what we created
OWNER_VALUE = "netledger-lb"
LB_KEY = "netledger-lb"              # OVS Interface external_ids: the load balancer it belongs to
MARK = "# netledger-lb"              # first line of every haproxy.cfg we write


class LbConfig(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    ovsdb: str = "unix:/var/run/openvswitch/db.sock"
    integration_bridge: str = "br-int"
    host_netns: str = ""             # namespace ovs-vswitchd runs in ("" = ours)
    netns_prefix: str = ""           # LB namespaces are <prefix>qlbaas-<id>
    state_dir: str = "/var/lib/netledger/lb"
    haproxy: str = "haproxy"
    resync_interval: float = 10.0
    heartbeat_interval: float = 10.0
    stats_interval: float = 1.0

    def netns(self, lb_id: str) -> str:
        return f"{self.netns_prefix}qlbaas-{lb_id}"

    def lb_of_netns(self, name: str) -> str | None:
        head = f"{self.netns_prefix}qlbaas-"
        return name[len(head):] if name.startswith(head) else None

    def dir(self, lb_id: str) -> str:
        return os.path.join(self.state_dir, lb_id)


def vip_link(port_id: str) -> str:
    """lbv-<11> (IFNAMSIZ is 15)."""
    return f"lbv-{port_id[:11]}"
