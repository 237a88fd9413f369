"""Security groups on a Linux bridge host (pure): wanted nft tables, their ops, parsing.

Per filtered port two private tables, each rendered whole and stamped with
``comment "netledger-sg <digest>"`` (the digest of the rendered text):
``table inet nl-sg-<port id[:11]>`` (its security group rules, ``sg.render_nft``) and
``table bridge nl-as-<port id[:11]>`` (its MAC/IP/ARP anti-spoofing guard on the tap,
``sg.render_nft_bridge``), which also stamps the port's mark slot on its frames so the
inet table can tell its traffic from other ports' (``sg.marks``; slots are assigned
over all filtered ports of the host at once, so they are unique here, and a port for
which none is left is kept off the bridge: fail closed). Observation reads back our
tables (name prefixes ``nl-sg-`` in inet, ``nl-as-`` in bridge) and their comments
only, so the planner replaces exactly the tables whose text changed, deletes tables of
ports no longer filtered (and unmarked/foreign-looking ones with our prefixes are
rewritten), and a converged host plans [] (re-apply is a no-op). A port is filtered when its intent has port security,
is admin up, its network is wired here and its tap exists. br_netfilter
(bridge-nf-call-ip{,6}tables) is on in the host namespace exactly while some port is
filtered: without it the inet forward hook never sees bridged frames (the bridge
family needs no such switch). Limitation: a hand edit *inside* a table that keeps its
comment is not seen (only the digest is observed).
"""

from __future__ import annotations

import hashlib
import re

import msgspec

from netledger.libs.events.intents import L2Network
from netledger.services.l2.desired import HostDesired
from netledger.services.l2.driver_plug import tap_name
from netledger.services.l2.linuxbridge import ops as O
from netledger.services.l2.linuxbridge.layout import bridge_name
from netledger.services.l2.linuxbridge.model import BridgeObserved
from netledger.services.l2.sg.marks import assign_slots
from netledger.services.l2.sg.model import PortFilter, port_filter
from netledger.services.l2.sg.render_nft import render_port_table, table_name
from netledger.services.l2.sg.render_nft_bridge import GUARD_PREFIX, guard_table_name, render_guard_table

TABLE_PREFIX = "nl-sg-"
COMMENT_PREFIX = "netledger-sg "


class NftTable(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    digest: str
    text: str                 # the stamped text (with the digest comment), ready for nft -f
    family: str = "inet"


def stamp(text: str, name: str, family: str = "inet") -> NftTable:
    """Insert the digest comment as the table's first statement."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    head = f"table {family} {name} {{\n"
    if head not in text:
        raise ValueError(f"rendered text has no table {family} {name}")
    stamped = text.replace(head, f'{head}  comment "{COMMENT_PREFIX}{digest}"\n', 1)
    return NftTable(name=name, digest=digest, text=stamped, family=family)


class SgWanted(msgspec.Struct, frozen=True, kw_only=True):
    """tables: SG table name -> inet table; guards: guard table name -> bridge table,
    both for every filtered port with a mark slot; unmarked: filtered ports without one
    (more than ``marks.SLOTS``): they must not be wired."""

    tables: dict[str, NftTable]
    guards: dict[str, NftTable]
    unmarked: frozenset[str] = frozenset()


def _filtered(desired: HostDesired, nets: dict[str, L2Network],
              obs: BridgeObserved) -> list[tuple[str, str, PortFilter]]:
    """(port id, network id, filter) of every filtered port (security off: not listed)."""
    out = []
    for pid, port in sorted(desired.ports.items()):
        if not port.admin_state_up or port.network_id not in nets or tap_name(pid) not in obs.links:
            continue
        f = port_filter(port, desired.security_groups, desired.sg_members)
        if f is not None:
            out.append((pid, port.network_id, f))
    return out


def wanted_sg(desired: HostDesired, nets: dict[str, L2Network], obs: BridgeObserved) -> SgWanted:
    """Both tables of every filtered port, each pair sharing the port's mark slot."""
    filtered = _filtered(desired, nets, obs)
    slots = assign_slots(pid for pid, _, _ in filtered)
    tables: dict[str, NftTable] = {}
    guards: dict[str, NftTable] = {}
    for pid, net, f in filtered:
        if pid not in slots:
            continue
        tap, slot = tap_name(pid), slots[pid]
        tables[table_name(pid)] = stamp(render_port_table(f, bridge=bridge_name(net), tap=tap, slot=slot),
                                        table_name(pid))
        guards[guard_table_name(pid)] = stamp(render_guard_table(f, tap=tap, slot=slot),
                                              guard_table_name(pid), "bridge")
    return SgWanted(tables=tables, guards=guards,
                    unmarked=frozenset(pid for pid, _, _ in filtered if pid not in slots))


def wanted_tables(desired: HostDesired, nets: dict[str, L2Network], obs: BridgeObserved) -> dict[str, NftTable]:
    """SG table name -> inet table for every filtered port."""
    return wanted_sg(desired, nets, obs).tables


def wanted_guards(desired: HostDesired, nets: dict[str, L2Network], obs: BridgeObserved) -> dict[str, NftTable]:
    """Guard table name -> bridge-family anti-spoofing table for every filtered port."""
    return wanted_sg(desired, nets, obs).guards


def plan_removals(want: dict[str, NftTable], guards: dict[str, NftTable], obs: BridgeObserved) -> list[O.Op]:
    """Tables of ports no longer filtered, then br_netfilter off if nothing is filtered."""
    ops: list[O.Op] = [O.DelNftTable(name=n, family="bridge") for n in sorted(set(obs.nft_bridge) - set(guards))]
    ops += [O.DelNftTable(name=n) for n in sorted(set(obs.nft) - set(want))]
    if not want and (obs.nf_call_iptables or obs.nf_call_ip6tables):
        ops.append(O.SetBridgeNf(on=False))
    return ops


def plan_adds(want: dict[str, NftTable], guards: dict[str, NftTable], obs: BridgeObserved) -> list[O.Op]:
    """Changed/missing guards and tables (one nft transaction), then br_netfilter on: all
    before any tap is enslaved, so a new port never passes traffic unguarded or
    unfiltered (fail closed)."""
    ops: list[O.Op] = [O.ReplaceNftTable(name=n, digest=t.digest, text=t.text, family="bridge")
                       for n, t in sorted(guards.items()) if obs.nft_bridge.get(n) != t.digest]
    ops += [O.ReplaceNftTable(name=n, digest=t.digest, text=t.text)
            for n, t in sorted(want.items()) if obs.nft.get(n) != t.digest]
    if want and not (obs.nf_call_iptables and obs.nf_call_ip6tables):
        ops.append(O.SetBridgeNf(on=True))
    return ops


_TABLE = re.compile(r"^table (\S+) (\S+) \{\s*$")
_COMMENT = re.compile(r'^\s*comment "(.*)"\s*$')
PREFIXES = {"inet": TABLE_PREFIX, "bridge": GUARD_PREFIX}


def parse_tables(listing: str, family: str = "inet") -> dict[str, str]:
    """An ``nft -t list ruleset`` listing -> our tables of ``family`` (by name prefix) ->
    digest ("" = unmarked).

    nft 1.0.6 prints a table's comment (not in JSON) as the first line of its body.
    """
    out: dict[str, str] = {}
    lines = listing.splitlines()
    for i, line in enumerate(lines):
        m = _TABLE.match(line)
        if not m or m.group(1) != family or not m.group(2).startswith(PREFIXES[family]):
            continue
        c = _COMMENT.match(lines[i + 1]) if i + 1 < len(lines) else None
        text = c.group(1) if c else ""
        out[m.group(2)] = text[len(COMMENT_PREFIX):] if text.startswith(COMMENT_PREFIX) else ""
    return out


def replace_script(ops: list[O.Op]) -> str:
    """One nft transaction for a run of table ops: ``table X; delete table X`` makes the
    delete valid whether or not X exists (knftables' idiom), then the new text."""
    out: list[str] = []
    for op in ops:
        match op:
            case O.ReplaceNftTable(name=n, text=t, family=fam):
                out += [f"table {fam} {n}", f"delete table {fam} {n}", t.rstrip("\n")]
            case O.DelNftTable(name=n, family=fam):
                out += [f"table {fam} {n}", f"delete table {fam} {n}"]
            case _:
                raise ValueError(f"not an nft op: {op!r}")
    return "\n".join(out) + "\n"
