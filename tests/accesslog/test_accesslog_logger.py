"""AccessLogger: format choice, dontlognull, levels, captures, fan-out to targets."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from lb.accesslog import AccessLogger, LogFormatError, LogRecord, ProcessInfo, SyslogError
from lb.config.model import Capture, LogOptions, LogTarget, Source

SRC = Source("t.cfg", 3)
PROC = ProcessInfo(tag="lb", pid=7, hostname="h")


@pytest.fixture
def rx() -> Iterator[socket.socket]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.3)
    yield s
    s.close()


def received(s: socket.socket) -> list[bytes]:
    out = []
    try:
        while True:
            out.append(s.recv(65536))
    except TimeoutError:
        return out


def tgt(s: socket.socket, fmt: str = "raw", **kw: object) -> LogTarget:
    port = s.getsockname()[1]
    return LogTarget(address=f"127.0.0.1:{port}", facility="local2", source=SRC, format=fmt, **kw)  # type: ignore[arg-type]


def rec(**kw: object) -> LogRecord:
    base: dict[str, object] = dict(
        client_ip="10.0.0.1", client_port=1234, frontend_name="fe", backend_name="be",
        server_name="s1", accept_ms=0, Tw=0, Tc=0, Tt=5, TR=0, Ti=0, Tr=1, Ta=2,
        status=200, bytes_out=10, bytes_in=20, method=b"GET", uri=b"/", version=b"HTTP/1.1",
    )  # fmt: skip
    base.update(kw)
    return LogRecord(**base)  # type: ignore[arg-type]


def test_httplog_and_tcplog_choice(rx: socket.socket) -> None:
    log = AccessLogger([tgt(rx)], LogOptions(httplog=True), process=PROC)
    log.log_http(rec())
    log.log_tcp(rec())  # a TCP session through an httplog frontend gets the tcplog line
    log.close()
    http, tcp = received(rx)
    assert http.endswith(b' 200 10 - - ---- 0/0/0/0/0 0/0 "GET / HTTP/1.1"\n')
    assert tcp.endswith(b" fe be/s1 0/0/5 10 -- 0/0/0/0/0 0/0\n")


def test_tcp_mode_httplog_falls_back_to_tcplog(rx: socket.socket) -> None:
    log = AccessLogger([tgt(rx)], LogOptions(httplog=True), mode="tcp", process=PROC)
    log.log_http(rec())
    log.close()
    assert received(rx)[0].endswith(b" fe be/s1 0/0/5 10 -- 0/0/0/0/0 0/0\n")


def test_log_format_overrides(rx: socket.socket) -> None:
    opts = LogOptions(httplog=True, log_format="%ci %ST %{+Q}HU")
    log = AccessLogger([tgt(rx)], opts, process=PROC)
    log.log_http(rec())
    log.close()
    assert received(rx) == [b'10.0.0.1 200 "/"\n']


def test_bad_log_format_raises_at_construction() -> None:
    with pytest.raises(LogFormatError, match="'nope'"):
        AccessLogger([], LogOptions(log_format="%nope"))
    with pytest.raises(LogFormatError, match="reserved for HTTP"):
        AccessLogger([], LogOptions(log_format="%r"), mode="tcp")


def test_bad_target_raises_and_closes_the_others(rx: socket.socket) -> None:
    bad = LogTarget(address="ring@x", facility="local2", source=SRC)
    with pytest.raises(SyslogError):
        AccessLogger([tgt(rx), bad], LogOptions(tcplog=True))


def test_dontlognull(rx: socket.socket) -> None:
    log = AccessLogger([tgt(rx)], LogOptions(tcplog=True, dontlognull=True), process=PROC)
    log.log_tcp(rec(bytes_in=0, bytes_out=0, termination="CD"))  # a probe: not logged
    log.log_tcp(rec(bytes_in=1))
    log.close()
    assert len(received(rx)) == 1


def test_no_format_no_traffic_line_but_connect_line(rx: socket.socket) -> None:
    log = AccessLogger([tgt(rx)], LogOptions(), process=PROC)
    log.log_http(rec())
    log.log_tcp(rec())
    log.log_connect(rec(frontend_ip="10.0.3.31", frontend_port=8012), "HTTP")
    log.close()
    assert received(rx) == [b"Connect from 10.0.0.1:1234 to 10.0.3.31:8012 (fe/HTTP)\n"]


def test_levels_info_and_separate_errors(rx: socket.socket) -> None:
    log = AccessLogger([tgt(rx, "priority")], LogOptions(tcplog=True), process=PROC)
    log.log_tcp(rec(termination="SC"))
    log.close()
    sep = AccessLogger(
        [tgt(rx, "priority")], LogOptions(tcplog=True), process=PROC, separate_errors=True
    )
    sep.log_tcp(rec())
    sep.log_tcp(rec(termination="SC"))
    sep.log_tcp(rec(status=503, termination="--"))
    sep.log_tcp(rec(retries=1))
    sep.close()
    pris = [line.split(b">")[0] + b">" for line in received(rx)]
    assert pris == [b"<150>", b"<150>", b"<147>", b"<147>", b"<147>"]


def test_several_targets_each_own_format(rx: socket.socket) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx2:
        rx2.bind(("127.0.0.1", 0))
        rx2.settimeout(0.3)
        log = AccessLogger(
            [tgt(rx, "short"), tgt(rx2, "local", level="err")],
            LogOptions(tcplog=True),
            process=PROC,
        )
        log.log_tcp(rec())
        log.close()
        assert received(rx2) == []  # info is above "err": filtered
    assert received(rx)[0].startswith(b"<6>10.0.0.1:1234 [")


def test_dead_target_counts_drops(rx: socket.socket) -> None:
    port = rx.getsockname()[1]
    rx.close()
    t = LogTarget(address=f"127.0.0.1:{port}", facility="local2", source=SRC)
    log = AccessLogger([t], LogOptions(tcplog=True), process=PROC)
    for _ in range(50):
        log.log_tcp(rec())
    log.close()
    assert log.dropped > 0


def test_captures() -> None:
    caps = [Capture("Host", 20, SRC), Capture("User-Agent", 5, SRC), Capture("X-None", 4, SRC)]
    log = AccessLogger([], LogOptions(httplog=True), request_captures=caps)
    headers = [(b"host", b"example.com"), (b"User-Agent", b"curl/8 long"),
               (b"user-agent", b"second one")]  # fmt: skip
    assert log.request_capture(headers) == [b"example.com", b"secon", None]
    assert len(log.response_capture) == 0
    assert not log.enabled and not log.wants_line(rec())
