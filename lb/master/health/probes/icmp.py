"""ICMP echo (keepalived's PING_CHECK): an echo reply within the timeout passes.

An unprivileged "ping socket" (SOCK_DGRAM, IPPROTO_ICMP) is tried first; when
``net.ipv4.ping_group_range`` does not allow it, a raw socket (CAP_NET_RAW,
which the master keeps). With a ping socket the kernel picks the identifier
and fills the checksum; with a raw one lb does, and reads every ICMP packet of
the host, so replies are matched on identifier, sequence and payload.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import struct
import time

from lb.master.health.probes.result import CheckResult, elapsed_ms
from lb.master.health.spec import Target
from lb.stats.server_state import CheckStatus

ECHO_REQUEST = {socket.AF_INET: 8, socket.AF_INET6: 128}
ECHO_REPLY = {socket.AF_INET: 0, socket.AF_INET6: 129}
UNREACHABLE = {socket.AF_INET: 3, socket.AF_INET6: 1}
_PROTO = {socket.AF_INET: socket.IPPROTO_ICMP, socket.AF_INET6: socket.IPPROTO_ICMPV6}
_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence
_sequence = itertools.count(1)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(family: int, identifier: int, sequence: int, payload: bytes) -> bytes:
    kind = ECHO_REQUEST[family]
    header = _HEADER.pack(kind, 0, 0, identifier, sequence)
    if family == socket.AF_INET:  # ICMPv6 checksums cover a pseudo-header: the kernel's job
        header = _HEADER.pack(kind, 0, checksum(header + payload), identifier, sequence)
    return header + payload


def parse_reply(family: int, packet: bytes, raw: bool) -> tuple[int, int, int, bytes] | None:
    """(type, identifier, sequence, payload) of an ICMP message; None if too short.

    A raw IPv4 socket hands over the IP header too; for an unreachable message
    the identifier and sequence are those of the echo request it quotes.
    """
    if raw and family == socket.AF_INET:
        if len(packet) < 20:
            return None
        packet = packet[(packet[0] & 0x0F) * 4 :]
    if len(packet) < _HEADER.size:
        return None
    kind, _code, _sum, ident, seq = _HEADER.unpack_from(packet)
    payload = packet[_HEADER.size :]
    if kind == UNREACHABLE[family]:
        inner = payload[4:]  # unused word, then the original datagram
        if family == socket.AF_INET:
            if len(inner) < 20:
                return None
            inner = inner[(inner[0] & 0x0F) * 4 :]
        else:
            inner = inner[40:]
        if len(inner) < _HEADER.size:
            return None
        _k, _c, _s, ident, seq = _HEADER.unpack_from(inner)
        return kind, ident, seq, b""
    return kind, ident, seq, payload


def _open(family: int) -> tuple[socket.socket, bool]:
    try:
        return socket.socket(family, socket.SOCK_DGRAM, _PROTO[family]), False
    except PermissionError:
        return socket.socket(family, socket.SOCK_RAW, _PROTO[family]), True


async def icmp_probe(target: Target, timeout: float) -> CheckResult:
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        sock, raw = _open(target.family)
    except OSError as exc:
        return CheckResult(CheckStatus.SOCKERR, 0, 0, f"cannot open an ICMP socket: {exc}")
    sock.setblocking(False)
    try:
        identifier = os.getpid() & 0xFFFF
        sequence = next(_sequence) & 0xFFFF
        payload = struct.pack("!d", time.time()) + os.urandom(8)
        packet = echo_request(target.family, identifier, sequence, payload)
        try:
            await loop.sock_sendto(sock, packet, (target.host, 0))
            kind = await asyncio.wait_for(
                _await_reply(sock, target.family, raw, identifier, sequence, payload), timeout
            )
        except TimeoutError:
            return CheckResult(CheckStatus.L4TOUT, 0, elapsed_ms(start, loop.time()), "no reply")
        except OSError as exc:
            info = exc.strerror or str(exc)
            return CheckResult(CheckStatus.L4CON, 0, elapsed_ms(start, loop.time()), info)
    finally:
        sock.close()
    duration = elapsed_ms(start, loop.time())
    if kind == ECHO_REPLY[target.family]:
        return CheckResult(CheckStatus.L4OK, 0, duration, "echo reply")
    return CheckResult(CheckStatus.L4CON, 0, duration, "destination unreachable")


async def _await_reply(
    sock: socket.socket, family: int, raw: bool, identifier: int, sequence: int, payload: bytes
) -> int:
    loop = asyncio.get_running_loop()
    wanted = (ECHO_REPLY[family], UNREACHABLE[family])
    while True:
        packet = await loop.sock_recv(sock, 2048)
        parsed = parse_reply(family, packet, raw)
        if parsed is None:
            continue
        kind, ident, seq, data = parsed
        if kind not in wanted or seq != sequence:
            continue
        # A ping socket's identifier is the kernel's; a raw socket sees everyone's pings.
        if raw and ident != identifier:
            continue
        if kind == ECHO_REPLY[family] and data != payload:
            continue
        return kind
