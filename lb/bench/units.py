"""Sizes, durations and rates as people type them (``20k``, ``5ms``, ``2.5s``), and back.

Sizes are decimal (``100k`` = 100 000 bytes, as in "100 kB responses"); ``ki``/``mi``/``gi``
are the binary ones. A bare duration is seconds on the command line (``-d 10``) and
milliseconds in a request's query (``t=5``), so the default unit is a parameter.
"""

from __future__ import annotations

import re

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]i?)?b?\s*", re.I)
_SIZE_MULT = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "ki": 1 << 10,
    "mi": 1 << 20,
    "gi": 1 << 30,
    "ti": 1 << 40,
}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h)?\s*", re.I)
_DURATION_MULT = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_size(text: str) -> int:
    """``"20k"`` → 20000, ``"1mi"`` → 1048576, ``"128"`` → 128. ValueError when malformed."""
    m = _SIZE.fullmatch(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (examples: 128, 20k, 1m, 64ki)")
    return int(float(m.group(1)) * _SIZE_MULT[(m.group(2) or "").lower()])


def parse_duration(text: str, default_unit: str = "s") -> float:
    """``"5ms"`` → 0.005, ``"2"`` → 2.0 (in default_unit), ``"1m"`` → 60.0. Seconds out."""
    m = _DURATION.fullmatch(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (examples: 10, 10s, 250ms, 1m)")
    unit = (m.group(2) or default_unit).lower()
    return float(m.group(1)) * _DURATION_MULT[unit]


def parse_count(text: str) -> int:
    """A count that may carry a decimal suffix: ``"10k"`` → 10000."""
    n = parse_size(text)
    if n <= 0:
        raise ValueError(f"must be positive: {text!r}")
    return n


def fmt_duration(seconds: float) -> str:
    """Three significant figures in the unit that suits: ``0.000123`` → ``"123µs"``."""
    if seconds < 0:
        return "-" + fmt_duration(-seconds)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{_sig3(seconds / scale)}{unit}"
    return f"{_sig3(seconds / 1e-9)}ns" if seconds else "0"


def fmt_bytes(n: float) -> str:
    """Decimal units: ``20000`` → ``"20.0kB"``."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}{unit}"
    return f"{n:.0f}B"


def fmt_count(n: float) -> str:
    """``1234567`` → ``"1.23M"``; below ten thousand the plain number."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale * 10 or (unit != "k" and n >= scale):
            return f"{_sig3(n / scale)}{unit}"
    return f"{n:.0f}" if n == int(n) else f"{n:.1f}"


def _sig3(x: float) -> str:
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"
