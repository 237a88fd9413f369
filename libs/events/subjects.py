"""Subject scheme: one subject per aggregate, claims as unique-index subjects.

``<prefix>.evt.net.<net>.network``     network facts
``<prefix>.evt.net.<net>.subnet.<id>`` subnet facts (under the network so that a
                                        port create can check "network and its subnets
                                        unchanged" with one wildcard expectation)
``<prefix>.evt.<kind>.<id>``           every other aggregate (port, router, ...)
``<prefix>.claim.ip.<subnet>.<hexip>`` one subject per address: its last message says
                                        who holds it (IpClaimed/IpReleased)
``<prefix>.claim.mac.<net>.<hexmac>``  MAC uniqueness per network, same idea
``<prefix>.status.<kind>.<id>``        worker reports (separate stream: never races
                                        the API's sequence checks)
``<prefix>.notify.vif.<port>``         "vif plugged" notifications for orchestrators
``<prefix>.dlq.<consumer>``            parked poison messages
"""

from __future__ import annotations

import ipaddress

import msgspec


def ip_token(ip: str) -> str:
    """Subject-safe, canonical form of an address ('.' and ':' are not usable)."""
    return ipaddress.ip_address(ip).packed.hex()


def mac_token(mac: str) -> str:
    return mac.lower().replace(":", "")


def host_token(host: str) -> str:
    """Host names may contain dots; subjects and KV keys may not."""
    return host.replace(".", "_").replace("*", "_").replace(">", "_").replace(" ", "_")


class Subjects(msgspec.Struct, frozen=True):
    prefix: str = "nl"

    # --- streams' subject filters
    @property
    def events_filter(self) -> list[str]:
        return [f"{self.prefix}.evt.>", f"{self.prefix}.claim.>"]

    @property
    def status_filter(self) -> list[str]:
        return [f"{self.prefix}.status.>"]

    @property
    def dlq_filter(self) -> list[str]:
        return [f"{self.prefix}.dlq.>"]

    # --- aggregates
    def network(self, net: str) -> str:
        return f"{self.prefix}.evt.net.{net}.network"

    def network_tree(self, net: str) -> str:
        """The network and all its subnets (for wildcard expectations)."""
        return f"{self.prefix}.evt.net.{net}.>"

    def subnet(self, net: str, subnet: str) -> str:
        return f"{self.prefix}.evt.net.{net}.subnet.{subnet}"

    def aggregate(self, kind: str, id: str) -> str:
        return f"{self.prefix}.evt.{kind}.{id}"

    # --- claims (unique indexes)
    def claim_ip(self, subnet: str, ip: str) -> str:
        return f"{self.prefix}.claim.ip.{subnet}.{ip_token(ip)}"

    def claims_ip_of_subnet(self, subnet: str) -> str:
        return f"{self.prefix}.claim.ip.{subnet}.>"

    def claim_mac(self, net: str, mac: str) -> str:
        return f"{self.prefix}.claim.mac.{net}.{mac_token(mac)}"

    def claims_mac_of_network(self, net: str) -> str:
        return f"{self.prefix}.claim.mac.{net}.>"

    def claim_segment(self, network_type: str, physnet: str, seg_id: int) -> str:
        return f"{self.prefix}.claim.seg.{network_type}.{host_token(physnet or '-')}.{seg_id}"

    # --- worker side
    def status(self, kind: str, id: str) -> str:
        return f"{self.prefix}.status.{kind}.{id}"

    def vif_notify(self, port: str) -> str:
        return f"{self.prefix}.notify.vif.{port}"

    def projection_position(self, name: str) -> str:
        """Core-NATS ping a projection sends after each commit (read-your-writes)."""
        return f"{self.prefix}.proj.{name}"

    def dlq(self, consumer: str) -> str:
        return f"{self.prefix}.dlq.{consumer}"
