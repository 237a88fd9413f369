"""A port's MAC and fixed IPs (pure): which values, and which claims they still need.

Invariant: every value a port ends up with is either already held by this port
(its current addresses, or claims this request won on an earlier, lost attempt) or
comes with a claim publication expecting the claim subject's last sequence, so two
ports can never both get it.

Pure: the decider reads claims only from a :class:`ClaimSnapshot` (data read before
deciding, with free-value candidates already sampled). A value the snapshot does not
cover raises :class:`NeedClaims`; the command layer reads it and decides again, so the
outcome is a function of the arguments alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from netledger.errors import Conflict, NeutronError
from netledger.libs.events.claims import IpClaimed, IpReleased, MacClaimed, MacReleased
from netledger.libs.events.port import FixedIp
from netledger.libs.events.subjects import Subjects

from .. import ipam
from . import Publication
from .claims import OwnClaims

Claim = tuple[str, int, bool]  # (owner, last sequence on the claim subject, held)


class NeedClaims(Exception):
    """The snapshot lacks something the decision needs: read it and decide again.

    ``ips``: (subnet id, address) pairs; ``macs``: (network id, MAC) pairs; ``free``:
    a subnet (its body) and the addresses to avoid, for one more free candidate;
    ``fresh_macs``: (network id, MAC base) for one more random free MAC."""

    def __init__(self, *, ips=(), macs=(), free=None, fresh_macs=None) -> None:
        super().__init__("claims snapshot incomplete")
        self.ips, self.macs, self.free, self.fresh_macs = tuple(ips), tuple(macs), free, fresh_macs


@dataclass(frozen=True)
class ClaimSnapshot:
    """Claims as read before deciding: keyed "scope/value" -> (owner, seq, held)."""

    ips: Mapping[str, Claim] = field(default_factory=dict)
    macs: Mapping[str, Claim] = field(default_factory=dict)
    free: Mapping[str, tuple[str, ...]] = field(default_factory=dict)   # subnet -> candidates
    exhausted: frozenset[str] = frozenset()   # subnets with no candidate left beyond ``free``
    fresh_macs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # network -> candidates

    def ip(self, subnet_id: str, ip: str) -> Claim:
        try:
            return self.ips[f"{subnet_id}/{ip}"]
        except KeyError:
            raise NeedClaims(ips=[(subnet_id, ip)]) from None

    def mac(self, network_id: str, mac: str) -> Claim:
        try:
            return self.macs[f"{network_id}/{mac}"]
        except KeyError:
            raise NeedClaims(macs=[(network_id, mac)]) from None

    def free_ip(self, subnet: dict, exclude: set[str]) -> str:
        """A candidate free when read and not in ``exclude`` (IpAddressGenerationFailure
        once the subnet's pools had nothing more to offer)."""
        for ip in self.free.get(subnet["id"], ()):
            if ip not in exclude:
                return ip
        if subnet["id"] in self.exhausted:
            raise ipam.ip_generation_failure(subnet.get("network_id"))
        raise NeedClaims(free=(subnet, frozenset(exclude)))

    def fresh_mac(self, network_id: str, mac_base: str, n: int) -> str:
        cands = self.fresh_macs.get(network_id, ())
        if n < len(cands):
            return cands[n]
        raise NeedClaims(fresh_macs=(network_id, mac_base))

    def merged(self, **parts) -> "ClaimSnapshot":
        """A copy with more entries (what the reader added for a NeedClaims)."""
        out = {}
        for name, extra in parts.items():
            cur = getattr(self, name)
            if name == "exhausted":
                out[name] = cur | extra
            elif name in ("free", "fresh_macs"):
                out[name] = {**cur, **{k: cur.get(k, ()) + v for k, v in extra.items()}}
            else:
                out[name] = {**cur, **extra}
        return replace(self, **out)


def claim_ip(subjects: Subjects, port_id: str, subnet_id: str, ip: str, seq: int, *, chosen: bool) -> Publication:
    return Publication(subject=subjects.claim_ip(subnet_id, ip), kind="claim", aggregate_id=port_id,
                       step=f"claim-ip-{subnet_id}-{ip}", expect_seq=seq, chosen=chosen,
                       event=IpClaimed(subnet_id=subnet_id, ip_address=ip, owner=port_id))


def release_ip(subjects: Subjects, port_id: str, subnet_id: str, ip: str, seq: int) -> Publication:
    return Publication(subject=subjects.claim_ip(subnet_id, ip), kind="claim", aggregate_id=port_id,
                       step=f"release-ip-{subnet_id}-{ip}", expect_seq=seq,
                       event=IpReleased(subnet_id=subnet_id, ip_address=ip, owner=port_id))


def mac_pub(subjects: Subjects, port_id: str, net_id: str, mac: str, seq: int, *, chosen: bool = False,
            release: bool = False) -> Publication:
    cls = MacReleased if release else MacClaimed
    return Publication(subject=subjects.claim_mac(net_id, mac), kind="claim", aggregate_id=port_id,
                       step=f"{'release' if release else 'claim'}-mac-{mac}", expect_seq=seq, chosen=chosen,
                       event=cls(network_id=net_id, mac_address=mac, owner=port_id))


def choose_mac(req_mac, *, port_id: str, net_id: str, claims: ClaimSnapshot, subjects: Subjects,
               mac_base: str, own: OwnClaims) -> tuple[str, list[Publication]]:
    """The requested MAC (409 MacAddressInUse if another port holds it), else the MAC
    this request already won, else a fresh random one from ``mac_base``."""
    if req_mac:
        mac = ipam.normalize_mac(req_mac)
        owner, seq, held = claims.mac(net_id, mac)
        if held and owner != port_id:
            raise Conflict(f"Unable to complete operation for network {net_id}. The mac address {mac} "
                           "is in use.", type="MacAddressInUse")
        return mac, ([] if held or mac == own.mac_on(net_id) else [mac_pub(subjects, port_id, net_id, mac, seq)])
    reused = own.mac_on(net_id)
    if reused:
        return reused, []
    for n in range(16):
        mac = claims.fresh_mac(net_id, mac_base, n)
        owner, seq, held = claims.mac(net_id, mac)
        if not held:
            return mac, [mac_pub(subjects, port_id, net_id, mac, seq, chosen=True)]
    raise Conflict("Unable to generate unique mac", type="MacAddressGenerationFailure")


class _Picker:
    """Collects (subnet, address) choices for one port and the claims they need."""

    def __init__(self, *, port_id: str, claims: ClaimSnapshot, subjects: Subjects,
                 own: OwnClaims, keep: set[str]) -> None:
        self.port_id, self.claims, self.subjects = port_id, claims, subjects
        self.own, self.keep = own, keep
        self.own_subjects = own.subjects()
        self.fixed: list[FixedIp] = []
        self.pubs: list[Publication] = []
        self.taken: set[str] = set()

    def auto(self, subnet: dict) -> str:
        """An address from the subnet's pools: one this request already won there, else
        a free one (IpAddressGenerationFailure when the pools are full)."""
        kept = [k.split("/", 1)[1] for k in self.keep if k.startswith(subnet["id"] + "/")]
        reuse = next((ip for ip in kept if ip not in self.taken), None) or self.own.ip_in(subnet["id"], self.taken)
        if reuse:
            return reuse
        skipped: set[str] = set()
        while True:
            ip = self.claims.free_ip(subnet, self.taken | skipped)
            owner, _, held = self.claims.ip(subnet["id"], ip)
            if not held or owner == self.port_id:
                return ip
            # A candidate another port holds (the snapshot's reads were not one
            # transaction): pick again rather than report a conflict nobody asked for.
            skipped.add(ip)

    def add(self, subnet_id: str, ip: str, *, chosen: bool) -> None:
        self.taken.add(ip)
        self.fixed.append(FixedIp(subnet_id=subnet_id, ip_address=ip))
        if f"{subnet_id}/{ip}" in self.keep or self.subjects.claim_ip(subnet_id, ip) in self.own_subjects:
            return  # already this port's: nothing to claim
        owner, seq, held = self.claims.ip(subnet_id, ip)
        if held and owner != self.port_id:
            raise Conflict(f"IP address {ip} already allocated in subnet {subnet_id}",
                           type="IpAddressAlreadyAllocated")
        if not held:
            self.pubs.append(claim_ip(self.subjects, self.port_id, subnet_id, ip, seq, chosen=chosen))

    def from_group(self, group: tuple[str, ...], by_id: dict[str, dict], network_id: str) -> None:
        """Neutron's subnet group: the first subnet (in order) that still has room."""
        for subnet_id in group:
            try:
                ip = self.auto(by_id[subnet_id])
            except NeutronError as exc:
                if exc.type != "IpAddressGenerationFailure":
                    raise
                continue
            self.add(subnet_id, ip, chosen=True)
            return
        raise ipam.ip_generation_failure(network_id)


def choose_ips(requested, *, port_id: str, network: dict, subnets: list[dict], claims: ClaimSnapshot,
               subjects: Subjects, mac: str, device_owner: str = "",
               keep: set[str] | None = None, own: OwnClaims) -> tuple[list[FixedIp], list[Publication]]:
    """Resolve a ``fixed_ips`` request (None: Neutron's defaults) into addresses and the
    claims still needed. ``keep`` are this port's current "subnet/ip" (updates)."""
    by_id = {s["id"]: s for s in subnets}
    picker = _Picker(port_id=port_id, claims=claims, subjects=subjects, own=own, keep=keep or set())
    if requested is None:
        plan = ipam.plan_default_fixed_ips(subnets, device_owner=device_owner, mac_address=mac)
        for group in plan.any_of:
            picker.from_group(group, by_id, network["id"])
        pairs = list(plan.eui64)
    else:
        pairs = ipam.resolve_fixed_ips(requested, subnets, network_id=network["id"],
                                       device_owner=device_owner, mac_address=mac)
    for subnet_id, ip in pairs:
        subnet = by_id[subnet_id]
        if ip is None:
            picker.add(subnet_id, picker.auto(subnet), chosen=True)
        else:
            if ip in picker.taken:
                raise Conflict(f"IP address {ip} already allocated in subnet {subnet_id}",
                               type="IpAddressAlreadyAllocated")
            picker.add(subnet_id, ipam.check_fixed_ip(subnet, ip, network_id=network["id"],
                                                      device_owner=device_owner), chosen=False)
    return picker.fixed, picker.pubs
