"""The PROXY protocol, versions 1 (text) and 2 (binary): parse and build headers.

A balancer in front of lb (``bind … accept-proxy``) or behind it (``server …
send-proxy|send-proxy-v2``) passes the client's addresses in a header that
comes before the connection's own bytes. Facts from the protocol's
specification (haproxy.org, ``proxy-protocol.txt``):

- v1 is one line, ``PROXY TCP4|TCP6|UNKNOWN SRC DST SPORT DPORT\\r\\n``, at most
  107 bytes with the CRLF; after ``UNKNOWN`` anything may follow up to the CRLF;
- v2 starts with a 12-byte signature, then version and command, family and
  protocol, and a 16-bit length of what follows (addresses, then TLVs); the
  ``LOCAL`` command (health checks from the balancer itself) carries no client;
- a receiver tells them apart by their first bytes, and a connection without a
  valid header is closed.

Pure functions, no I/O: ``parse`` says how many bytes the header took, or
that more are needed; it raises ``ProxyHeaderError`` and nothing else.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import NamedTuple

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_PREFIX = b"PROXY "
V1_MAX = 107  # the longest v1 line, CRLF included
V2_FIXED = 16  # signature, version/command, family/protocol, length
V2_MAX = V2_FIXED + 0xFFFF  # what the 16-bit length allows

_V2_HEAD = struct.Struct("!12sBBH")
_V2_INET = struct.Struct("!4s4sHH")
_V2_INET6 = struct.Struct("!16s16sHH")

# v2 fields
CMD_LOCAL = 0x0
CMD_PROXY = 0x1
AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX = 0x0, 0x1, 0x2, 0x3
PROTO_UNSPEC, PROTO_STREAM, PROTO_DGRAM = 0x0, 0x1, 0x2
_ADDRESS_LENGTHS = {AF_UNSPEC: 0, AF_INET: 12, AF_INET6: 36, AF_UNIX: 216}

Address = tuple[str, int]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class ProxyHeaderError(ValueError):
    """Not a valid PROXY protocol header: the connection is to be closed."""


class ProxyHeader(NamedTuple):
    """What a header says. ``source``/``destination`` are None when it carries no
    usable address (LOCAL, UNKNOWN, unix or unspecified families): the receiver
    then keeps the connection's own addresses."""

    version: int  # 1 or 2
    local: bool  # v2 LOCAL command
    family: str  # "TCP4", "TCP6", "UNKNOWN" (v2: UNIX and UNSPEC are "UNKNOWN" too)
    source: Address | None
    destination: Address | None


# ----------------------------------------------------------------------------- parse


def parse(data: bytes) -> tuple[ProxyHeader, int] | None:
    """The header at the start of ``data`` and its length, or None when ``data`` is
    a valid beginning that needs more bytes. Raises ProxyHeaderError otherwise."""
    if data[:12] == V2_SIGNATURE:
        return _parse_v2(data)
    if data[:6] == V1_PREFIX:
        return _parse_v1(data)
    n = len(data)
    if n < 12 and (V2_SIGNATURE[:n] == data or (n < 6 and V1_PREFIX[:n] == data)):
        return None
    raise ProxyHeaderError("not a PROXY protocol header")


def _parse_v1(data: bytes) -> tuple[ProxyHeader, int] | None:
    end = data.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        if len(data) >= V1_MAX or b"\n" in data[:V1_MAX]:
            raise ProxyHeaderError("PROXY v1 line too long or not ended by CRLF")
        return None
    line = data[6:end]
    if b"\r" in line:
        raise ProxyHeaderError("stray CR in PROXY v1 line")
    if line == b"UNKNOWN" or line.startswith(b"UNKNOWN "):
        return ProxyHeader(1, False, "UNKNOWN", None, None), end + 2
    fields = line.split(b" ")
    if len(fields) != 5:
        raise ProxyHeaderError("PROXY v1 line needs 5 fields after PROXY")
    proto, src, dst, sport, dport = fields
    if proto == b"TCP4":
        make: type[IP] = ipaddress.IPv4Address
    elif proto == b"TCP6":
        make = ipaddress.IPv6Address
    else:
        raise ProxyHeaderError("PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN")
    source = (_v1_address(src, make), _v1_port(sport))
    destination = (_v1_address(dst, make), _v1_port(dport))
    return ProxyHeader(1, False, proto.decode(), source, destination), end + 2


def _v1_address(word: bytes, make: type[IP]) -> str:
    # ipaddress takes scope ids ("fe80::1%eth0"); the protocol has none
    if not word or b"%" in word or not word.isascii():
        raise ProxyHeaderError("bad address in PROXY v1 line")
    try:
        ip = make(word.decode("ascii"))
    except ValueError as e:
        raise ProxyHeaderError(f"bad address in PROXY v1 line: {e}") from None
    return _text(ip)


def _text(ip: IP) -> str:
    """As the socket calls write it (v4-mapped IPv6 ends in dotted IPv4), like v2's."""
    return socket.inet_ntop(socket.AF_INET if ip.version == 4 else socket.AF_INET6, ip.packed)


def _v1_port(word: bytes) -> int:
    if not (0 < len(word) <= 5) or not word.isdigit() or not word.isascii():
        raise ProxyHeaderError("bad port in PROXY v1 line")
    if len(word) > 1 and word[0] == 0x30:  # "0" then more: not a plain decimal
        raise ProxyHeaderError("port with a leading zero in PROXY v1 line")
    port = int(word)
    if port > 65535:
        raise ProxyHeaderError("port out of range in PROXY v1 line")
    return port


def _parse_v2(data: bytes) -> tuple[ProxyHeader, int] | None:
    if len(data) < V2_FIXED:
        return None
    _sig, ver_cmd, fam, length = _V2_HEAD.unpack_from(data)
    if ver_cmd >> 4 != 2:
        raise ProxyHeaderError("PROXY v2 header with a version other than 2")
    command = ver_cmd & 0xF
    if command not in (CMD_LOCAL, CMD_PROXY):
        raise ProxyHeaderError("PROXY v2 header with an unknown command")
    family, proto = fam >> 4, fam & 0xF
    if family not in _ADDRESS_LENGTHS or proto > PROTO_DGRAM:
        raise ProxyHeaderError("PROXY v2 header with an unknown family or protocol")
    total = V2_FIXED + length
    if len(data) < total:
        return None
    if command == CMD_LOCAL:  # the balancer's own connection: addresses mean nothing
        return ProxyHeader(2, True, "UNKNOWN", None, None), total
    if family == AF_UNSPEC:  # the sender does not know: whatever follows is skipped
        return ProxyHeader(2, False, "UNKNOWN", None, None), total
    needed = _ADDRESS_LENGTHS[family]
    if length < needed:
        raise ProxyHeaderError("PROXY v2 address block shorter than its family needs")
    _check_tlvs(data, V2_FIXED + needed, total)
    if proto != PROTO_STREAM or family == AF_UNIX:
        return ProxyHeader(2, False, "UNKNOWN", None, None), total
    if family == AF_INET:
        s, d, sp, dp = _V2_INET.unpack_from(data, V2_FIXED)
        kind, af = "TCP4", socket.AF_INET
    else:
        s, d, sp, dp = _V2_INET6.unpack_from(data, V2_FIXED)
        kind, af = "TCP6", socket.AF_INET6
    source = (socket.inet_ntop(af, s), sp)
    destination = (socket.inet_ntop(af, d), dp)
    return ProxyHeader(2, False, kind, source, destination), total


def _check_tlvs(data: bytes, start: int, end: int) -> None:
    """The bytes after the addresses are TLVs (type, 16-bit length, value) to the end."""
    at = start
    while at < end:
        if at + 3 > end:
            raise ProxyHeaderError("truncated TLV in PROXY v2 header")
        at += 3 + int.from_bytes(data[at + 1 : at + 3], "big")
        if at > end:
            raise ProxyHeaderError("TLV longer than the PROXY v2 header")


# ----------------------------------------------------------------------------- build


def _ip(text: str) -> IP:
    return ipaddress.ip_address(text.split("%", 1)[0])


def _pair(source: Address | None, destination: Address | None) -> tuple[IP, int, IP, int] | None:
    """Both addresses in one family (IPv4 becomes v4-mapped IPv6 beside an IPv6 one);
    None when either is missing or not an IP address (the header says UNKNOWN)."""
    if source is None or destination is None:
        return None
    try:
        s, d = _ip(source[0]), _ip(destination[0])
    except ValueError:
        return None
    if s.version != d.version:
        if s.version == 4:
            s = ipaddress.IPv6Address("::ffff:" + str(s))
        else:
            d = ipaddress.IPv6Address("::ffff:" + str(d))
    return s, int(source[1]), d, int(destination[1])


def build_v1(source: Address | None, destination: Address | None) -> bytes:
    """``PROXY TCP4|TCP6 …\\r\\n``, or ``PROXY UNKNOWN\\r\\n`` without two IP addresses."""
    pair = _pair(source, destination)
    if pair is None:
        return b"PROXY UNKNOWN\r\n"
    s, sp, d, dp = pair
    kind = "TCP4" if s.version == 4 else "TCP6"
    return f"PROXY {kind} {_text(s)} {_text(d)} {sp} {dp}\r\n".encode("ascii")


def build_v2(source: Address | None, destination: Address | None, *, local: bool = False) -> bytes:
    """The binary header: PROXY with TCP over IPv4/IPv6, or LOCAL (and PROXY with an
    unspecified family when the addresses are not IP addresses)."""
    if local:
        return _V2_HEAD.pack(V2_SIGNATURE, 0x20 | CMD_LOCAL, 0, 0)
    pair = _pair(source, destination)
    if pair is None:
        return _V2_HEAD.pack(V2_SIGNATURE, 0x20 | CMD_PROXY, 0, 0)
    s, sp, d, dp = pair
    if s.version == 4:
        body = _V2_INET.pack(s.packed, d.packed, sp, dp)
        fam = AF_INET << 4 | PROTO_STREAM
    else:
        body = _V2_INET6.pack(s.packed, d.packed, sp, dp)
        fam = AF_INET6 << 4 | PROTO_STREAM
    return _V2_HEAD.pack(V2_SIGNATURE, 0x20 | CMD_PROXY, fam, len(body)) + body


def build(version: int, source: Address | None, destination: Address | None) -> bytes:
    """The header ``server … send-proxy`` (1) or ``send-proxy-v2`` (2) writes."""
    return build_v2(source, destination) if version == 2 else build_v1(source, destination)
