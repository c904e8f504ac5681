"""Numbers, times and sizes as HAProxy and keepalived write them.

Every parser raises ``ValueError`` with a message that names the offending word,
ready to be put after ``file:line``.
"""

from __future__ import annotations

import re

# HAProxy keeps timers in a signed 32-bit count of milliseconds; beyond that it
# refuses the value ("timer overflow"), and so do we.
MAX_TIME_MS = 2**31 - 1

_TIME_RE = re.compile(r"(\d+)(us|ms|s|m|h|d)?")
_TIME_FACTOR_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

_SIZE_RE = re.compile(r"(\d+)([kKmMgG])?")
_SIZE_FACTOR = {"k": 1024, "m": 1024**2, "g": 1024**3}

_INT_RE = re.compile(r"[+-]?\d+")
_SECONDS_RE = re.compile(r"(\d+)(?:\.(\d+))?")


def parse_time(word: str) -> int:
    """HAProxy time: digits and an optional unit (us ms s m h d), default ms.

    The result is in milliseconds; a non-zero microsecond value rounds up to at
    least 1 ms, because HAProxy rounds ``us`` up too.
    """
    m = _TIME_RE.fullmatch(word)
    if m is None:
        raise ValueError(f"invalid time value '{word}' (expected a number with unit us/ms/s/m/h/d)")
    value, unit = int(m.group(1)), m.group(2) or "ms"
    ms = -(-value // 1000) if unit == "us" else value * _TIME_FACTOR_MS[unit]
    if ms > MAX_TIME_MS:
        raise ValueError(f"time value '{word}' is too large (timer overflow, max 2147483647 ms)")
    return ms


def parse_size(word: str) -> int:
    """HAProxy size: digits and an optional k/m/g suffix (any case), 1024 multiples."""
    m = _SIZE_RE.fullmatch(word)
    if m is None:
        raise ValueError(f"invalid size value '{word}' (expected a number with unit k/m/g)")
    unit = m.group(2)
    return int(m.group(1)) * (_SIZE_FACTOR[unit.lower()] if unit else 1)


def parse_int(word: str, low: int, high: int, what: str = "value") -> int:
    """A plain decimal integer within ``[low, high]``; unlike atoi, trailing junk is an error."""
    if _INT_RE.fullmatch(word) is None:
        raise ValueError(f"invalid {what} '{word}' (expected an integer)")
    value = int(word)
    if not low <= value <= high:
        raise ValueError(f"{what} '{word}' is out of range {low}..{high}")
    return value


def parse_seconds(word: str, what: str = "value", *, max_ms: int = MAX_TIME_MS) -> int:
    """keepalived durations: seconds, possibly fractional ("0.5"), returned as ms."""
    m = _SECONDS_RE.fullmatch(word)
    if m is None:
        raise ValueError(f"invalid {what} '{word}' (expected seconds)")
    whole, frac = m.group(1), (m.group(2) or "")
    # Microsecond precision is what keepalived keeps; round that up to whole ms.
    micros = int(whole) * 1_000_000 + int((frac + "000000")[:6])
    ms = -(-micros // 1000)
    if ms > max_ms:
        raise ValueError(f"{what} '{word}' is too large")
    return ms
