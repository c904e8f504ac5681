"""Sample values and their types, and the casts HAProxy applies between them.

A sample is one of: ``bytes`` (types "str" and "bin", and "meth" for a method),
``int``, ``bool``, an ``ipaddress`` address ("ip"); ``None`` means "no sample"
(a fetch that found nothing, a cast that failed). "any" is a variable's type:
known only at run time, so its casts look at the value.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable

from lb.acl.errors import RuleError

Value = bytes | int | bool | ipaddress.IPv4Address | ipaddress.IPv6Address
Cast = Callable[[Value], Value | None]

TYPES = ("str", "bin", "int", "bool", "ip", "meth", "any")

_INT_PREFIX = re.compile(rb"\s*([-+]?[0-9]+)")


def to_str(v: Value) -> bytes | None:
    if isinstance(v, bytes):
        return v
    if isinstance(v, bool):
        return b"1" if v else b"0"
    if isinstance(v, int):
        return b"%d" % v
    if isinstance(v, ipaddress.IPv6Address):
        # inet_ntop's text, as HAProxy: "::ffff:127.0.0.1", where Python 3.11 writes the
        # IPv4-mapped address of a dual-stack client as "::ffff:7f00:1"
        return socket.inet_ntop(socket.AF_INET6, v.packed).encode()
    return str(v).encode()


def to_int(v: Value) -> int | None:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, bytes):
        # As HAProxy's string-to-integer cast: the leading digits, the rest ignored.
        m = _INT_PREFIX.match(v)
        return int(m.group(1)) if m else None
    if isinstance(v, ipaddress.IPv4Address):
        return int(v)
    return None


def to_bool(v: Value) -> bool | None:
    n = to_int(v)
    return None if n is None else n != 0


def to_ip(v: Value) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if isinstance(v, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return v
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return ipaddress.IPv4Address(v & 0xFFFFFFFF)
    try:
        return ipaddress.ip_address(v.decode("ascii").strip())
    except (ValueError, UnicodeDecodeError):
        return None


_TO: dict[str, Cast] = {
    "str": to_str,
    "bin": to_str,
    "meth": to_str,
    "int": to_int,
    "bool": to_bool,
    "ip": to_ip,
}

# Casts HAProxy refuses at configuration time (source type → target types).
_REFUSED = {
    ("ip", "bool"),
    ("bool", "ip"),
    ("meth", "int"),
    ("meth", "bool"),
    ("meth", "ip"),
}


def caster(src: str, dst: str) -> Cast | None:
    """The cast from ``src`` to ``dst``; None when no cast is needed."""
    if src == dst or dst == "any" or (src in ("str", "bin", "meth") and dst in ("str", "bin")):
        return None
    if (src, dst) in _REFUSED:
        raise RuleError(f"cannot convert a sample of type '{src}' to '{dst}'")
    return _TO[dst]


# --------------------------------------------------------------------------- IP patterns


def parse_ipv4(text: str) -> int | None:
    """An IPv4 address as HAProxy reads patterns: dotted, with the abbreviated form
    where the last number fills what is missing ("127.1" = 127.0.0.1, "10.12" =
    10.0.0.12)."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(p.isdigit() and len(p) <= 10 for p in parts):
        return None
    nums = [int(p) for p in parts]
    *head, last = nums
    if any(n > 255 for n in head) or last >= 1 << (8 * (5 - len(nums))):
        return None
    value = 0
    for n in head:
        value = (value << 8) | n
    return (value << (8 * (5 - len(nums)))) | last


def parse_ip_pattern(text: str) -> tuple[int, int, int]:
    """``(version, network, mask)`` of an address or network pattern; mask as an integer
    (IPv4 masks may be dotted, and then need not be contiguous, as in HAProxy)."""
    addr, slash, mask_text = text.partition("/")
    v4 = parse_ipv4(addr)
    if v4 is not None:
        if not slash:
            mask = 0xFFFFFFFF
        elif mask_text.isdigit() and int(mask_text) <= 32:
            mask = (0xFFFFFFFF << (32 - int(mask_text))) & 0xFFFFFFFF
        else:
            dotted = parse_ipv4(mask_text) if mask_text.count(".") == 3 else None
            if dotted is None:
                raise RuleError(f"'{text}' is not a valid IPv4 or IPv6 address")
            mask = dotted
        return 4, v4 & mask, mask
    try:
        v6 = int(ipaddress.IPv6Address(addr))
    except ValueError:
        raise RuleError(f"'{text}' is not a valid IPv4 or IPv6 address") from None
    if not slash:
        bits = 128
    elif mask_text.isdigit() and int(mask_text) <= 128:
        bits = int(mask_text)
    else:
        raise RuleError(f"'{text}' is not a valid IPv4 or IPv6 address")
    mask = ((1 << 128) - 1) ^ ((1 << (128 - bits)) - 1)
    return 6, v6 & mask, mask


def looks_like_host_name(text: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", text)) and any(
        c.isalpha() for c in text
    )
