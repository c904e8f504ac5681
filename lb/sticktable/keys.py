"""A sample as a table key: its 64-bit fingerprint and the bytes kept for display (pure).

The fingerprint is the key's identity in the shared table, identical in every process
and every run (never Python's randomised ``hash()``):

- ip: the IPv4 address itself with a tag bit: exact;
- ipv6, integer, string: 63 bits of BLAKE2b over the key bytes, with the top bit set;
  two keys share a fingerprint with probability about n²/2⁶⁴ (10⁻⁷ for a million keys).

Fingerprints never take the reserved values 0 (empty), 1 (deleted), 2 (being written).
Samples are cast as HAProxy does for each table type: an ip table takes IPv4 addresses
(and IPv4-mapped IPv6 ones), an ipv6 table maps IPv4 addresses into ::ffff:0:0/96, a
string table cuts the key at its ``len``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from hashlib import blake2b
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (lb.acl imports this package: no run-time import back)
    from lb.acl.values import Value

EMPTY, DELETED, BUSY = 0, 1, 2
_inet_pton = socket.inet_pton
_AF_INET = socket.AF_INET
_IP_TAG = 1 << 40
_TOP = 1 << 63
_SPAN = 1 << 64

Key = tuple[int, bytes]  # (fingerprint, key bytes)
KeyOf = Callable[["Value"], Key | None]


def _hashed(data: bytes) -> int:
    """BLAKE2b's first 8 bytes with the top bit set, as a signed int64."""
    return (int.from_bytes(blake2b(data, digest_size=8).digest(), "little") | _TOP) - _SPAN


def ip_key(v: Value) -> Key | None:
    if isinstance(v, ipaddress.IPv4Address):
        return _IP_TAG | int(v), v.packed
    if isinstance(v, ipaddress.IPv6Address):
        mapped = v.ipv4_mapped
        return None if mapped is None else (_IP_TAG | int(mapped), mapped.packed)
    if isinstance(v, bytes):
        try:
            return ip_key(ipaddress.ip_address(v.decode("ascii")))
        except (ValueError, UnicodeDecodeError):
            return None
    return None


def ipv6_key(v: Value) -> Key | None:
    if isinstance(v, ipaddress.IPv4Address):
        packed = b"\0" * 10 + b"\xff\xff" + v.packed
    elif isinstance(v, ipaddress.IPv6Address):
        packed = v.packed
    elif isinstance(v, bytes):
        try:
            return ipv6_key(ipaddress.ip_address(v.decode("ascii")))
        except (ValueError, UnicodeDecodeError):
            return None
    else:
        return None
    return _hashed(packed), packed


def integer_key(v: Value) -> Key | None:
    if isinstance(v, bool):
        n = int(v)
    elif isinstance(v, int):
        n = v
    elif isinstance(v, ipaddress.IPv4Address):
        n = int(v)
    elif isinstance(v, bytes):
        try:
            n = int(v.strip())
        except ValueError:
            return None
    else:
        return None
    n = (n + _TOP) % _SPAN - _TOP  # as HAProxy's signed 64-bit integers
    packed = n.to_bytes(8, "little", signed=True)
    return _hashed(packed), packed


def string_key_of(length: int) -> KeyOf:
    def key(v: Value) -> Key | None:
        if isinstance(v, bytes):
            data = v
        elif isinstance(v, bool):
            data = b"1" if v else b"0"
        elif isinstance(v, int):
            data = b"%d" % v
        elif isinstance(v, ipaddress.IPv6Address):
            data = socket.inet_ntop(socket.AF_INET6, v.packed).encode()
        else:
            data = str(v).encode()
        data = data[:length]
        return _hashed(data), data

    return key


def key_function(key_type: str, length: int) -> KeyOf:
    if key_type == "ip":
        return ip_key
    if key_type == "ipv6":
        return ipv6_key
    if key_type == "integer":
        return integer_key
    return string_key_of(length)


def src_text_key(key_type: str) -> Callable[[str], Key | None] | None:
    """For ``track-sc0 src`` and ``src_*`` on an ip table: the key straight from the
    client's address text (inet_pton: 0.3 µs, where ipaddress takes 3). None for other
    table types (they take the parsed address)."""
    if key_type != "ip":
        return None

    def key(text: str) -> Key | None:
        try:
            packed = _inet_pton(_AF_INET, text)
        except OSError:  # an IPv6 client: only an IPv4-mapped one has a key
            try:
                return ip_key(ipaddress.ip_address(text))
            except ValueError:
                return None
        return _IP_TAG | int.from_bytes(packed, "big"), packed

    return key


def parse_key(key_type: str, length: int, text: str) -> Key | None:
    """A key as typed on the runtime API (``clear table T key K``)."""
    data = text.encode()
    if key_type == "integer":
        try:
            return integer_key(int(text))
        except ValueError:
            return None
    return key_function(key_type, length)(data)


def show_key(key_type: str, data: bytes) -> str:
    """The key as ``show table`` prints it."""
    if key_type == "ip":
        return socket.inet_ntop(socket.AF_INET, data[:4])
    if key_type == "ipv6":
        return socket.inet_ntop(socket.AF_INET6, data[:16])
    if key_type == "integer":
        return str(int.from_bytes(data[:8], "little", signed=True))
    return data.rstrip(b"\0").decode("utf-8", "replace")
