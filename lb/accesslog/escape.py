"""HAProxy's log escaping (manual section 8.6) and the Q/X/E flags of log-format.

Bytes outside 32..126, and '"' and '#', become ``#XX`` (upper-case hex). Captured headers
also encode '{', '|' and '}', which delimit them. The space stays as it is.
"""

from __future__ import annotations

import ipaddress
import re

_URL_UNSAFE = re.compile(rb'[\x00-\x1f\x7f-\xff"#]')
_HDR_UNSAFE = re.compile(rb'[\x00-\x1f\x7f-\xff"#{|}]')
_E_UNSAFE = re.compile(r'["\\\]]')


def _hex(m: re.Match[bytes]) -> bytes:
    return b"#%02X" % m.group()[0]


def encode_uri(raw: bytes) -> str:
    """A request line or part of it, as the log shows it."""
    if _URL_UNSAFE.search(raw) is None:
        return raw.decode("ascii")
    return _URL_UNSAFE.sub(_hex, raw).decode("ascii")


def encode_header(raw: bytes) -> str:
    """A captured header value, as the log shows it."""
    if _HDR_UNSAFE.search(raw) is None:
        return raw.decode("ascii")
    return _HDR_UNSAFE.sub(_hex, raw).decode("ascii")


def escape_e(text: str) -> str:
    """Flag E: '"', '\\' and ']' get a backslash (RFC 5424 structured data)."""
    return _E_UNSAFE.sub(lambda m: "\\" + m.group(), text)


def hex_ip(ip: str) -> str:
    """Flag X on an address: 8 (IPv4) or 32 (IPv6) upper-case hex digits."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    width = 8 if addr.version == 4 else 32
    return f"{int(addr):0{width}X}"
