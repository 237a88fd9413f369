"""What the golden files cover: every event version (by tag) and every intent type."""

from __future__ import annotations

import pathlib

from netledger.libs.events.dhcp import DhcpNetwork
from netledger.libs.events.fwaas import FwGroupIntent
from netledger.libs.events.intents import L2Network, L2Port, SecurityGroupIntent, SgMembers
from netledger.libs.events.l3_intents import RouterIntent
from netledger.libs.events.octavia import LbIntent
from netledger.libs.events.vpnaas import VpnIntent

GOLDEN = pathlib.Path(__file__).parent / "golden"

# Intents carry no tag: a changed shape is a new name here (e.g. "RouterIntent.v2").
INTENTS = {
    "L2Network": L2Network, "L2Port": L2Port, "SecurityGroupIntent": SecurityGroupIntent,
    "SgMembers": SgMembers, "RouterIntent": RouterIntent, "DhcpNetwork": DhcpNetwork,
    "LbIntent": LbIntent, "VpnIntent": VpnIntent, "FwGroupIntent": FwGroupIntent,
}


def event_tag(cls) -> str:
    return cls.__struct_config__.tag
