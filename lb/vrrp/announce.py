"""Gratuitous ARP and unsolicited neighbour advertisements for a VIP that just moved here.

Both are written as whole Ethernet frames on an AF_PACKET socket, as keepalived does: the
kernel's ARP and NDISC code would pick source addresses and destinations by its own rules,
while switches and neighbours must see exactly "VIP is at this MAC" from this interface.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
ICMPV6_NA = 136
ND_OPT_TARGET_LL_ADDR = 2
NA_FLAG_ROUTER = 0x80000000
NA_FLAG_OVERRIDE = 0x20000000
ALL_NODES = "ff02::1"
_BROADCAST_MAC = b"\xff" * 6
_ALL_NODES_MAC = b"\x33\x33\x00\x00\x00\x01"  # RFC 2464: 33:33 + low 32 bits of ff02::1
_MIN_FRAME = 60  # Ethernet minimum without FCS; veths do not pad for us


def _mac_bytes(mac: str, ifname: str) -> bytes:
    try:
        raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    except ValueError:
        raw = b""
    if len(raw) != 6:
        raise ValueError(f"{ifname}: bad MAC address {mac!r}")
    return raw


def _open(ifname: str, what: str) -> tuple[socket.socket, bytes]:
    """An AF_PACKET socket bound to ifname (protocol 0: it receives nothing), and its MAC."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        s.bind((ifname, 0))
    except OSError as exc:
        s.close()
        if exc.errno in (errno.ENODEV, errno.ENXIO):
            raise OSError(errno.ENODEV, f"no interface named {ifname!r} ({what})") from None
        raise OSError(exc.errno, f"{ifname}: {what}: {exc.strerror}") from None
    # A bound packet socket reports the interface's hardware address in getsockname().
    return s, bytes(s.getsockname()[4][:6])


def _send(s: socket.socket, ifname: str, frame: bytes, proto: int, what: str) -> None:
    frame = frame.ljust(_MIN_FRAME, b"\0")
    try:
        s.sendto(frame, (ifname, proto))
    except OSError as exc:
        raise OSError(exc.errno, f"{ifname}: {what}: {exc.strerror}") from None
    finally:
        s.close()


def gratuitous_arp_frame(ipv4: str, mac: bytes) -> bytes:
    """A broadcast ARP request with sender = target = the VIP (what keepalived sends)."""
    ip = socket.inet_aton(ipv4)
    eth = _BROADCAST_MAC + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", ARPHRD_ETHER, ETH_P_IP, 6, 4, ARPOP_REQUEST)
    return eth + arp + mac + ip + _BROADCAST_MAC + ip


def send_gratuitous_arp(ifname: str, ipv4: str, mac: str | None = None) -> None:
    """Announce that ipv4 is at mac (default: ifname's own MAC) to the whole segment."""
    try:
        addr = ipaddress.IPv4Address(ipv4.split("/")[0])
    except ValueError:
        raise ValueError(f"{ifname}: bad IPv4 address {ipv4!r} for gratuitous ARP") from None
    given = None if mac is None else _mac_bytes(mac, ifname)
    what = f"gratuitous ARP for {addr}"
    s, own = _open(ifname, what)
    _send(s, ifname, gratuitous_arp_frame(str(addr), given or own), ETH_P_ARP, what)


def _icmp6_checksum(src: bytes, dst: bytes, msg: bytes) -> int:
    pseudo = src + dst + struct.pack("!I3xB", len(msg), socket.IPPROTO_ICMPV6)
    data = pseudo + msg + (b"\0" if len(msg) % 2 else b"")
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def unsolicited_na_frame(
    ipv6: str, mac: bytes, *, source: str | None = None, router: bool = False
) -> bytes:
    """An unsolicited NA to ff02::1: override set, solicited clear, target link-layer option."""
    target = socket.inet_pton(socket.AF_INET6, ipv6)
    src = target if source is None else socket.inet_pton(socket.AF_INET6, source)
    dst = socket.inet_pton(socket.AF_INET6, ALL_NODES)
    flags = NA_FLAG_OVERRIDE | (NA_FLAG_ROUTER if router else 0)
    option = struct.pack("!BB", ND_OPT_TARGET_LL_ADDR, 1) + mac  # length in units of 8 bytes
    msg = struct.pack("!BBHI", ICMPV6_NA, 0, 0, flags) + target + option
    csum = _icmp6_checksum(src, dst, msg)
    msg = msg[:2] + struct.pack("!H", csum) + msg[4:]
    # Version 6, traffic class 0, flow 0; hop limit 255 or receivers must drop it (RFC 4861).
    ip6 = struct.pack("!IHBB", 6 << 28, len(msg), socket.IPPROTO_ICMPV6, 255) + src + dst
    return _ALL_NODES_MAC + mac + struct.pack("!H", ETH_P_IPV6) + ip6 + msg


def send_unsolicited_na(
    ifname: str,
    ipv6: str,
    mac: str | None = None,
    *,
    source: str | None = None,
    router: bool = False,
) -> None:
    """Announce that ipv6 is at mac (default: ifname's own MAC) to all nodes on the link.

    ``source`` is the IPv6 source address (default: the VIP itself, an address of this
    interface as RFC 4861 §7.2.4 asks); ``router`` sets the R flag, for a VIP that is a
    default gateway (IPv6 forwarding on).
    """
    try:
        addr = ipaddress.IPv6Address(ipv6.split("/")[0])
        src = None if source is None else str(ipaddress.IPv6Address(source.split("%")[0]))
    except ValueError:
        raise ValueError(
            f"{ifname}: bad IPv6 address {ipv6!r} (source {source!r}) for neighbour advertisement"
        ) from None
    given = None if mac is None else _mac_bytes(mac, ifname)
    what = f"unsolicited neighbour advertisement for {addr}"
    s, own = _open(ifname, what)
    frame = unsolicited_na_frame(str(addr), given or own, source=src, router=router)
    _send(s, ifname, frame, ETH_P_IPV6, what)
