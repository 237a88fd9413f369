"""What the Linux bridge mechanism observes: links and our VXLAN flood entries, as values.

Links are keyed by name (names are unique within a namespace; indexes are the
driver's business). ``fdb`` holds, per VXLAN device, the destinations of its
``00:00:00:00:00:00`` (flood) entries only: learned unicast entries are the kernel's.
"""

from __future__ import annotations

import msgspec

MARK = "netledger-l2"        # IFLA_IFALIAS of every link we create: we delete only those


class ObsLink(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    kind: str = ""                  # bridge, vxlan, veth, ... ("" = physical/unknown)
    master: str = ""                # name of the bridge it is enslaved to
    up: bool = False                # administratively up (IFF_UP)
    mtu: int = 0
    mine: bool = False              # carries our mark
    vni: int | None = None          # vxlan only
    local: str = ""                 # vxlan only: local tunnel endpoint


class BridgeObserved(msgspec.Struct, frozen=True, kw_only=True):
    """``nft``: our security group tables (``nl-sg-*``, inet) -> digest from their
    comment ("" = unmarked); ``nft_bridge``: likewise our anti-spoofing guard tables
    (``nl-as-*``, bridge family); ``nf_call_*``: the host namespace's br_netfilter sysctls."""

    links: dict[str, ObsLink] = {}
    fdb: dict[str, frozenset[str]] = {}
    nft: dict[str, str] = {}
    nft_bridge: dict[str, str] = {}
    nf_call_iptables: bool = False
    nf_call_ip6tables: bool = False

    def flood(self, dev: str) -> frozenset[str]:
        return self.fdb.get(dev, frozenset())
