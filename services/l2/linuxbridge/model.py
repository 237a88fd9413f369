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


class LbObserved(msgspec.Struct, frozen=True, kw_only=True):
    links: dict[str, ObsLink] = {}
    fdb: dict[str, frozenset[str]] = {}

    def flood(self, dev: str) -> frozenset[str]:
        return self.fdb.get(dev, frozenset())
