"""Framing per target format, as haproxy 2.6 puts it on the wire."""

from __future__ import annotations

import time

import pytest

from lb.accesslog import ProcessInfo
from lb.accesslog.syslog import (
    FACILITIES,
    LEVELS,
    SyslogError,
    facility_code,
    level_code,
    make_framer,
)

PROC = ProcessInfo(tag="haproxy", pid=22288, hostname="vm")
NOW = 1795242298.592156  # 2026-11-21 06:24:58.592156 UTC
EARLY = 1770358454.0  # 2026-02-06 06:14:14 UTC: a one-digit day
MSG = "127.0.0.1:38588 [21/Nov/2026:06:24:58.857] fe be/s1"


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


CASES = [
    ("local", None, f"<150>Nov 21 06:24:58 haproxy[22288]: {MSG}\n"),
    ("local", "vm", f"<150>Nov 21 06:24:58 vm haproxy[22288]: {MSG}\n"),
    ("rfc3164", None, f"<150>Nov 21 06:24:58 localhost haproxy[22288]: {MSG}\n"),
    ("rfc3164", "vm", f"<150>Nov 21 06:24:58 vm haproxy[22288]: {MSG}\n"),
    ("rfc5424", None, f"<150>1 2026-11-21T06:24:58.592156+00:00 - haproxy 22288 - - {MSG}\n"),
    ("rfc5424", "vm", f"<150>1 2026-11-21T06:24:58.592156+00:00 vm haproxy 22288 - - {MSG}\n"),
    ("priority", None, f"<150>{MSG}\n"),
    ("short", None, f"<6>{MSG}\n"),
    ("timed", None, f"<6>2026-11-21T06:24:58.592156+00:00 {MSG}\n"),
    ("iso", None, f"2026-11-21T06:24:58.592156+00:00 {MSG}\n"),
    ("raw", None, f"{MSG}\n"),
]


@pytest.mark.parametrize(("fmt", "host", "expected"), CASES)
def test_frames(fmt: str, host: str | None, expected: str) -> None:
    frame = make_framer(fmt, "local2", PROC, send_hostname=host)
    assert frame(MSG, LEVELS["info"], NOW) == expected.encode()


def test_day_is_space_padded() -> None:
    frame = make_framer("local", "daemon", PROC)
    assert frame("x", LEVELS["err"], EARLY) == b"<27>Feb  6 06:14:14 haproxy[22288]: x\n"


def test_cut_at_len_before_the_newline() -> None:
    frame = make_framer("local", "local2", PROC, length=80)
    out = frame(MSG + " " + "x" * 200, 6, NOW)
    # haproxy 2.6 with "len 80" sent exactly 80 bytes and a newline
    assert (
        out == b"<150>Nov 21 06:24:58 haproxy[22288]: 127.0.0.1:38588 [21/Nov/2026:06:24:58.857] \n"
    )
    assert len(out) == 81


@pytest.mark.parametrize(
    ("facility", "level", "pri"),
    [
        ("kern", "emerg", 0),
        ("user", "notice", 13),
        ("local0", "info", 134),
        ("local7", "debug", 191),
        ("daemon", "err", 27),
        ("cron2", "alert", 121),
    ],
)
def test_pri(facility: str, level: str, pri: int) -> None:
    assert facility_code(facility) * 8 + level_code(level) == pri
    frame = make_framer("priority", facility, PROC)
    assert frame("m", level_code(level), NOW) == f"<{pri}>m\n".encode()


def test_tables_complete() -> None:
    assert len(FACILITIES) == 24 and len(LEVELS) == 8


@pytest.mark.parametrize(
    ("fmt", "facility"), [("bsd", "local2"), ("local", "local8"), ("raw", "nope")]
)
def test_unknown_names_rejected(fmt: str, facility: str) -> None:
    with pytest.raises(SyslogError):
        make_framer(fmt, facility, PROC)


def test_non_ascii_names_survive_as_utf8() -> None:
    frame = make_framer("raw", "local2", PROC)
    assert frame("fé", 6, NOW) == "fé\n".encode()
