"""DHCPRELEASE on behalf of a client whose reservation is gone (what dnsmasq-utils'
``dhcp_release`` does for Neutron; that tool is not installed here).

dnsmasq keeps a lease until it expires even after the host entry is removed and will
not give the address to another MAC meanwhile ("not using configured address ...
because it is leased to ..."). A release sent from inside the namespace, bound to
the DHCP interface, with the old client's MAC and address, frees it at once.
Run in the namespace: ``python -m netledger.services.dhcp.release IFACE SERVER IP MAC``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import sys

DHCP_COOKIE = 0x63825363


def build_release(mac: str, ip: str, server: str, xid: int = 0) -> bytes:
    """A BOOTREQUEST carrying DHCPRELEASE (option 53 = 7) and the server identifier."""
    chaddr = bytes.fromhex(mac.replace(":", "")).ljust(16, b"\0")
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128sI", 1, 1, 6, 0, xid, 0, 0,
                       ipaddress.IPv4Address(ip).packed, b"\0" * 4, b"\0" * 4, b"\0" * 4,
                       chaddr, b"\0" * 64, b"\0" * 128, DHCP_COOKIE)
    options = bytes([53, 1, 7, 54, 4]) + ipaddress.IPv4Address(server).packed + bytes([255])
    return head + options


def send_release(iface: str, server: str, ip: str, mac: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((server, 68))
        sock.sendto(build_release(mac, ip, server, xid=int.from_bytes(os.urandom(4), "big")), (server, 67))


def main(argv: list[str] | None = None) -> int:
    iface, server, ip, mac = (argv if argv is not None else sys.argv[1:])[:4]
    send_release(iface, server, ip, mac)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
