"""Our httplog/tcplog lines against real haproxy's, field for field.

haproxy (``-db``, mode http with ``option httplog``, and a ``mode tcp`` listen with
``option tcplog``) logs to a UDP socket of ours; a small HTTP backend runs in a thread.
For every request we build the LogRecord from what the client sent and received, and
compare our framed line with haproxy's, except what only the process knows: dates,
timers, pid, and the concurrency counters (copied from haproxy's line).
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lb.accesslog import (
    HTTPLOG,
    TCPLOG,
    HeaderCapture,
    LogRecord,
    ProcessInfo,
    compile_log_format,
)
from lb.accesslog.syslog import LEVELS, make_framer
from lb.config.model import Capture, Source
from tests.support.peers import need_command

SRC = Source("haproxy.cfg", 1)
REQ_CAPS = [Capture("Host", 20, SRC), Capture("User-Agent", 5, SRC)]
RES_CAPS = [Capture("Content-Length", 10, SRC)]

from tests.support.haproxy_log import (  # noqa: E402 - shared with the daemon-level test
    HTTP_FIELDS,
    TCP_FIELDS,
    comparable,
    split_fields,
)

# --------------------------------------------------------------------------- peers


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # haproxy resets idle server connections: not an error here


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"hello\n" if not self.path.startswith("/missing") else b"no such thing\n"
        self.send_response(404 if self.path.startswith("/missing") else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Rig:
    http_port: int
    tcp_port: int
    tcp_dead_port: int
    log: socket.socket

    def lines(self, n: int, timeout: float = 10.0) -> list[bytes]:
        out: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            try:
                out.append(self.log.recv(65536))
            except TimeoutError:
                pass
        return out


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    haproxy = need_command("haproxy")
    backend = _Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    log = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    log.bind(("127.0.0.1", 0))
    log.settimeout(0.2)
    bport, lport = backend.server_address[1], log.getsockname()[1]
    http_port, tcp_port, tcp_dead_port, dead = (_free_port() for _ in range(4))
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(
        f"""
global
    log 127.0.0.1:{lport} local2 debug
defaults
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    mode http
    option httplog
    bind 127.0.0.1:{http_port}
    capture request header Host len 20
    capture request header User-Agent len 5
    capture response header Content-Length len 10
    use_backend dead if {{ path_beg /dead }}
    default_backend be
backend be
    mode http
    server s1 127.0.0.1:{bport}
backend dead
    mode http
    retries 1
    server s2 127.0.0.1:{dead}
listen tcpl
    mode tcp
    option tcplog
    bind 127.0.0.1:{tcp_port}
    server t1 127.0.0.1:{bport}
listen tcpdead
    mode tcp
    option tcplog
    retries 1
    bind 127.0.0.1:{tcp_dead_port}
    server t2 127.0.0.1:{dead}
"""
    )
    errlog = (tmp_path / "haproxy.err").open("wb")
    proc = subprocess.Popen([haproxy, "-db", "-f", str(cfg)], stdout=errlog, stderr=errlog)
    try:
        deadline = time.monotonic() + 10
        while True:  # ready when it accepts (empty probes are not logged: dontlognull)
            try:
                socket.create_connection(("127.0.0.1", http_port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "haproxy.err").read_text()) from None
                time.sleep(0.05)
        yield Rig(http_port, tcp_port, tcp_dead_port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        errlog.close()
        backend.shutdown()
        backend.server_close()
        log.close()


# --------------------------------------------------------------------------- clients


@dataclass
class Exchange:
    port: int  # the client's port
    sent: bytes
    received: bytes


def exchange(port: int, data: bytes) -> Exchange:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(data)
        got = b""
        while chunk := c.recv(65536):
            got += chunk
        return Exchange(c.getsockname()[1], data, got)


def head_fields(raw: bytes) -> tuple[bytes, bytes, bytes, list[tuple[bytes, bytes]]]:
    """Request or response head: the three words of the first line, and the headers."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    first = [*head[0].split(b" ", 2), b"", b""]
    headers = [tuple(h.split(b":", 1)) for h in head[1:] if b":" in h]
    return first[0], first[1], first[2], [(k.strip(), v.strip()) for k, v in headers]


def http_record(ex: Exchange, theirs: dict[str, str | None], **kw: object) -> LogRecord:
    method, uri, version, req_headers = head_fields(ex.sent)
    _, status, _, res_headers = head_fields(ex.received)
    fields: dict[str, object] = dict(
        client_ip="127.0.0.1",
        client_port=ex.port,
        frontend_name="fe",
        backend_name="be",
        server_name="s1",
        accept_ms=int(time.time() * 1000),
        status=int(status),
        bytes_out=len(ex.received),
        req_captures=HeaderCapture(REQ_CAPS)(req_headers),
        res_captures=HeaderCapture(RES_CAPS)(res_headers),
        method=method,
        uri=uri,
        version=version,
    )
    fields.update(kw)
    rec = LogRecord(**fields)  # type: ignore[arg-type]
    copy_counters(rec, theirs)
    copy_http_bytes(rec, theirs)
    return rec


def copy_counters(rec: LogRecord, theirs: dict[str, str | None]) -> None:
    """actconn/feconn/beconn/srv_conn are haproxy's process state, like its timers."""
    assert theirs["conns"] is not None
    rec.actconn, rec.feconn, rec.beconn, rec.srv_conn = map(int, theirs["conns"].split("/"))


def copy_http_bytes(rec: LogRecord, theirs: dict[str, str | None]) -> None:
    """haproxy 2.6's %B in mode http counts its internal (HTX) message sizes, not wire
    bytes: header names and values without ": " and CRLF, nothing for its own 400 page.
    lb logs wire bytes, so the HTTP comparison takes haproxy's figure (TCP's is exact)."""
    assert theirs["bytes"] is not None
    rec.bytes_out = int(theirs["bytes"])


def ours(rec: LogRecord, fmt: str, mode: str) -> bytes:
    proc = ProcessInfo(tag="haproxy", pid=1)
    line = compile_log_format(fmt, mode=mode, process=proc)(rec)  # type: ignore[arg-type]
    return make_framer("local", "local2", proc)(line, LEVELS["info"], time.time())


def by_client_port(lines: list[bytes], pattern: re.Pattern[str]) -> dict[int, dict]:
    out = {}
    for raw in lines:
        f = split_fields(raw, pattern)
        assert f["client"] is not None
        out[int(f["client"].rsplit(":", 1)[1])] = f
    return out


# --------------------------------------------------------------------------- the tests


def test_httplog_matches_haproxy(rig: Rig) -> None:
    ok = exchange(
        rig.http_port,
        b"GET /x?a=b HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8 long\r\n"
        b"Connection: close\r\n\r\n",
    )
    missing = exchange(rig.http_port, b"GET /missing HTTP/1.0\r\n\r\n")
    head = exchange(rig.http_port, b"HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    quote = exchange(
        rig.http_port,
        b'GET /q?x="y HTTP/1.1\r\nHost: h\r\nUser-Agent: \x7fz\xc3\xa9\r\n'
        b"Connection: close\r\n\r\n",
    )
    dead = exchange(rig.http_port, b"GET /dead HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    bad = exchange(rig.http_port, b"garbage\r\n\r\n")
    lines = by_client_port(rig.lines(6), HTTP_FIELDS)
    assert len(lines) == 6, lines

    expected = {
        ok.port: http_record(ok, lines[ok.port]),
        missing.port: http_record(missing, lines[missing.port]),
        head.port: http_record(head, lines[head.port]),
        quote.port: http_record(quote, lines[quote.port]),
        # refused server: one retry, then haproxy's own 503, whose headers are not captured
        dead.port: http_record(
            dead,
            lines[dead.port],
            backend_name="dead",
            server_name="s2",
            termination="SC",
            retries=1,
            res_captures=[None],
        ),
        # not HTTP: no backend, no server, no capture block, "<BADREQ>"
        bad.port: http_record(
            bad,
            lines[bad.port],
            backend_name="",
            server_name="<NOSRV>",
            termination="PR",
            method=None,
            req_captures=None,
            res_captures=None,
        ),
    }
    for port, rec in expected.items():
        mine = split_fields(ours(rec, HTTPLOG, "http"), HTTP_FIELDS)
        assert comparable(mine) == comparable(lines[port])

    # what the comparison covered, spelled out
    assert lines[ok.port]["hr"] == "{example.com|curl/}"
    assert lines[head.port]["request"] == '"HEAD / HTTP/1.1"'
    assert lines[quote.port]["hr"] == "{h|#7Fz#C3#A9}"
    assert lines[quote.port]["request"] == '"GET /q?x=#22y HTTP/1.1"'
    assert (lines[dead.port]["status"], lines[dead.port]["tsc"]) == ("503", "SC--")
    assert lines[dead.port]["retries"] == "1"
    assert lines[missing.port]["status"] == "404"
    # the body is in haproxy's byte count: GET minus HEAD of the same resource is the body
    assert int(lines[ok.port]["bytes"] or 0) - int(lines[head.port]["bytes"] or 0) == 6
    assert lines[bad.port]["hr"] is None and lines[bad.port]["request"] == '"<BADREQ>"'


def test_tcplog_matches_haproxy(rig: Rig) -> None:
    data = exchange(rig.tcp_port, b"GET / HTTP/1.0\r\n\r\n")
    dead = exchange(rig.tcp_dead_port, b"hello?")
    lines = by_client_port(rig.lines(2), TCP_FIELDS)
    assert len(lines) == 2, lines
    common = dict(client_ip="127.0.0.1", accept_ms=int(time.time() * 1000))
    expected = {
        data.port: LogRecord(
            client_port=data.port,
            frontend_name="tcpl",
            backend_name="tcpl",
            server_name="t1",
            bytes_out=len(data.received),
            **common,  # type: ignore[arg-type]
        ),
        dead.port: LogRecord(
            client_port=dead.port,
            frontend_name="tcpdead",
            backend_name="tcpdead",
            server_name="t2",
            bytes_out=0,
            termination="SC",
            retries=1,
            **common,  # type: ignore[arg-type]
        ),
    }
    for port, rec in expected.items():
        copy_counters(rec, lines[port])
        mine = split_fields(ours(rec, TCPLOG, "tcp"), TCP_FIELDS)
        assert comparable(mine) == comparable(lines[port])
    assert lines[data.port]["ts"] == "--" and lines[dead.port]["ts"] == "SC"
