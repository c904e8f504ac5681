"""Date stamps of the log lines, each formatted at most once per second.

Month names are English whatever the locale, as HAProxy writes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _offset(tm: time.struct_time, colon: bool) -> str:
    off = tm.tm_gmtoff or 0
    sign = "-" if off < 0 else "+"
    off = abs(off) // 60
    sep = ":" if colon else ""
    return f"{sign}{off // 60:02d}{sep}{off % 60:02d}"


def _per_second(fmt: Callable[[int], str]) -> Callable[[int], str]:
    """Memoize ``fmt(second)`` for the last second seen (logs come in time order)."""
    last = [-1, ""]

    def get(sec: int) -> str:
        if sec != last[0]:
            last[1] = fmt(sec)
            last[0] = sec
        return last[1]  # type: ignore[return-value]

    return get


def _clf(local: bool) -> Callable[[int], str]:
    def fmt(sec: int) -> str:
        tm = time.localtime(sec) if local else time.gmtime(sec)
        return (
            f"{tm.tm_mday:02d}/{MONTHS[tm.tm_mon - 1]}/{tm.tm_year:04d}:"
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"
        )

    return _per_second(fmt)


def _clf_tz(local: bool) -> Callable[[int], str]:
    base = _clf(local)

    def fmt(sec: int) -> str:
        tm = time.localtime(sec) if local else time.gmtime(sec)
        return f"{base(sec)} {_offset(tm, colon=False)}"

    return _per_second(fmt)


_clf_local = _clf(True)
_clf_local_tz = _clf_tz(True)
_clf_gmt_tz = _clf_tz(False)


def clf_ms(ms: int) -> str:
    """``%t``/``%tr``: ``06/Feb/2009:12:14:14.655``, local time."""
    sec, frac = divmod(ms, 1000)
    return f"{_clf_local(sec)}.{frac:03d}"


def clf_local(ms: int) -> str:
    """``%Tl``/``%trl``: ``06/Feb/2009:12:14:14 +0100``."""
    return _clf_local_tz(ms // 1000)


def clf_gmt(ms: int) -> str:
    """``%T``/``%trg``: ``06/Feb/2009:11:14:14 +0000``."""
    return _clf_gmt_tz(ms // 1000)


def _rfc3164(sec: int) -> str:
    tm = time.localtime(sec)
    return (
        f"{MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"
    )


rfc3164 = _per_second(_rfc3164)
"""The syslog header date: ``Feb  6 12:14:14`` (day padded with a space), local time."""


def _iso_parts(sec: int) -> str:
    tm = time.localtime(sec)
    return (
        f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}T"
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}|{_offset(tm, colon=True)}"
    )


_iso_cached = _per_second(_iso_parts)


def iso(now: float) -> str:
    """RFC 5424 / ``iso`` / ``timed`` stamp: ``2009-02-06T12:14:14.655123+01:00``."""
    sec = int(now)
    usec = min(round((now - sec) * 1_000_000), 999_999)  # a float is not exact
    head, _, off = _iso_cached(sec).partition("|")
    return f"{head}.{usec:06d}{off}"
