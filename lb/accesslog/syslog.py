"""Syslog framing of a log line, per target ``format`` (HAProxy's ``log … format F``).

Shapes, as haproxy 2.6 sends them (checked on the wire):

- ``local`` (HAProxy's default): ``<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG``, and with
  ``log-send-hostname`` ``<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG``;
- ``rfc3164``: always a host field, ``localhost`` unless ``log-send-hostname`` says;
- ``rfc5424``: ``<PRI>1 ISO-TIME HOST TAG PID - - MSG`` (HOST is ``-`` unless sent);
- ``priority``: ``<PRI>MSG``; ``short``: ``<LEVEL>MSG``; ``timed``: ``<LEVEL>ISO-TIME MSG``;
  ``iso``: ``ISO-TIME MSG``; ``raw``: ``MSG``.

Every line is cut to ``len`` bytes, then ends with a newline (not counted in ``len``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from lb.accesslog import dates
from lb.accesslog.record import ProcessInfo

# fmt: off
_FACILITY_NAMES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
    "uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)
_LEVEL_NAMES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
# fmt: on
FACILITIES: dict[str, int] = {name: code for code, name in enumerate(_FACILITY_NAMES)}
LEVELS: dict[str, int] = {name: code for code, name in enumerate(_LEVEL_NAMES)}
FORMATS = ("local", "rfc3164", "rfc5424", "priority", "short", "timed", "iso", "raw")

INFO = LEVELS["info"]
ERR = LEVELS["err"]

# (message, level, now) -> the framed bytes, newline included
Framer = Callable[[str, int, float], bytes]


class SyslogError(ValueError):
    pass


def facility_code(name: str) -> int:
    try:
        return FACILITIES[name]
    except KeyError:
        raise SyslogError(f"unknown log facility '{name}'") from None


def level_code(name: str) -> int:
    try:
        return LEVELS[name]
    except KeyError:
        raise SyslogError(f"unknown log level '{name}'") from None


def make_framer(
    fmt: str,
    facility: str,
    process: ProcessInfo,
    *,
    send_hostname: str | None = None,
    length: int = 1024,
) -> Framer:
    """A framer for one target. ``send_hostname``: the ``log-send-hostname`` value, if set."""
    if fmt not in FORMATS:
        raise SyslogError(f"unknown log format '{fmt}' (expected one of {', '.join(FORMATS)})")
    fac = facility_code(facility) * 8
    tag, pid = process.tag, process.pid
    header: Callable[[int, float], str]

    if fmt == "local" or fmt == "rfc3164":
        host = (
            send_hostname
            if send_hostname is not None
            else ("localhost" if fmt == "rfc3164" else None)
        )
        tail = f" {host} {tag}[{pid}]: " if host else f" {tag}[{pid}]: "

        def header(level: int, now: float) -> str:
            return f"<{fac + level}>{dates.rfc3164(int(now))}{tail}"

    elif fmt == "rfc5424":
        tail = f" {send_hostname or '-'} {tag} {pid} - - "

        def header(level: int, now: float) -> str:
            return f"<{fac + level}>1 {dates.iso(now)}{tail}"

    elif fmt == "priority":

        def header(level: int, now: float) -> str:
            return f"<{fac + level}>"

    elif fmt == "short":

        def header(level: int, now: float) -> str:
            return f"<{level}>"

    elif fmt == "timed":

        def header(level: int, now: float) -> str:
            return f"<{level}>{dates.iso(now)} "

    elif fmt == "iso":

        def header(level: int, now: float) -> str:
            return f"{dates.iso(now)} "

    else:  # raw

        def header(level: int, now: float) -> str:
            return ""

    def frame(message: str, level: int, now: float) -> bytes:
        line = (header(level, now) + message).encode("utf-8", "replace")
        if len(line) > length:
            line = line[:length]
        return line + b"\n"

    return frame


def frame_now(framer: Framer, message: str, level: int = INFO) -> bytes:
    """Frame with the current time (tests, one-off lines)."""
    return framer(message, level, time.time())
