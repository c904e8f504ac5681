"""A real rsyslogd receives our lines: facility, severity, tag, pid and message parsed
as intended, for the rfc3164 family and rfc5424 framings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lb.accesslog import LogSender, ProcessInfo
from lb.accesslog.syslog import LEVELS
from lb.config.model import LogTarget, Source
from tests.support.rsyslog import Rsyslog

SRC = Source("t.cfg", 1)
PROC = ProcessInfo(tag="lbtest", pid=31337, hostname="lbhost")


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Rsyslog]:
    r = Rsyslog(tmp_path)
    try:
        yield r
    finally:
        r.stop()


def sender(r: Rsyslog, fmt: str, facility: str = "local2") -> LogSender:
    t = LogTarget(
        address=f"127.0.0.1:{r.port}",
        facility=facility,
        source=SRC,
        format=fmt,  # type: ignore[arg-type]
    )
    return LogSender(t, PROC, send_hostname="lbhost")


def test_rsyslog_files_our_lines_by_facility(rsyslog: Rsyslog) -> None:
    s = sender(rsyslog, "rfc3164")
    deadline = time.monotonic() + 10
    while not any("ready" in x for x in rsyslog.lines(rsyslog.local2)):  # rsyslogd starting
        assert time.monotonic() < deadline, rsyslog.lines(rsyslog.local2)
        s.send("ready", LEVELS["info"])
        time.sleep(0.1)
    line = (
        "127.0.0.1:38588 [21/Nov/2026:06:24:58.857] fe be/s1 0/0/0/0/0 200 120 - - ---- "
        '1/1/0/0/0 0/0 {example.com} "GET / HTTP/1.1"'
    )
    s.send("3164 " + line, LEVELS["info"])
    s.send("3164 error", LEVELS["err"])
    s5424 = sender(rsyslog, "rfc5424")
    s5424.send("5424 " + line, LEVELS["info"])
    local0 = sender(rsyslog, "local", facility="local0")
    local0.send("not for local2", LEVELS["notice"])
    for x in (s, s5424, local0):
        x.close()

    lines = rsyslog.wait_for(rsyslog.local2, "5424 ")
    assert f"local2|info|lbhost|lbtest|31337|3164 {line}" in lines
    assert "local2|err|lbhost|lbtest|31337|3164 error" in lines
    assert f"local2|info|lbhost|lbtest|31337|5424 {line}" in lines
    other = rsyslog.wait_for(rsyslog.other, "not for local2")
    assert other[-1].startswith("local0|notice|") and other[-1].endswith(
        "|lbtest|31337|not for local2"
    )
    assert not any("not for local2" in x for x in lines)
    # before rsyslogd was up, lines were refused: dropped and counted, nothing raised
    assert s5424.dropped == 0 and s.sent >= 3
