"""Traffic logs reach a syslog UDP target in HAProxy's httplog and tcplog shapes."""

from __future__ import annotations

import re
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.backends import Backend
from tests.support.clients import connect, echo_roundtrip, free_port, recv_exact
from tests.support.lbproc import LbProcess, tcp_config
from tests.support.peers import need_root
from tests.support.rsyslog import Rsyslog


@pytest.fixture
def syslog() -> Iterator[socket.socket]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    yield s
    s.close()


def _line(s: socket.socket) -> str:
    return s.recv(65536).decode()


def test_tcplog_line_and_frontend_count(
    lb_factory: Callable[..., LbProcess],
    backend: Callable[..., Backend],
    syslog: socket.socket,
) -> None:
    echo = backend("echo", name="echo")
    lb = lb_factory(workers=2)
    port = free_port()
    cfg = tcp_config(
        stats_socket=lb.stats_socket,
        bind_port=port,
        servers=[("echo", echo.port)],
        global_lines=[f"log 127.0.0.1:{syslog.getsockname()[1]} local2 info"],
        defaults_lines=["log global", "option tcplog"],
    )
    lb.start(cfg)
    held = connect(port)  # one connection stays open while another is logged
    held.sendall(b"hold\n")
    assert recv_exact(held, 5) == b"hold\n"
    assert echo_roundtrip(port, b"twelve bytes") == b"twelve bytes"
    line = _line(syslog)
    # <PRI>Mmm dd hh:mm:ss lb[pid]: ip:port [date] fe be/srv Tw/Tc/Tt bytes ts ac/fc/bc/sc/rc sq/bq
    assert line.startswith("<150>"), line  # local2.info
    m = re.search(
        r"lb\[\d+\]: 127\.0\.0\.1:\d+ \[[^]]+\] fe be/echo (\d+)/(\d+)/(\d+) 12 -- "
        r"(\d+)/(\d+)/\d+/\d+/0 0/0",
        line,
    )
    assert m, line
    actconn, feconn = int(m.group(4)), int(m.group(5))
    assert actconn == feconn == 2, line  # the held connection and the one being logged
    held.close()


def test_httplog_line_with_capture(
    lb_factory: Callable[..., LbProcess], syslog: socket.socket
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = b"hello"
            self.send_response(404 if "missing" in self.path else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        lb = lb_factory(workers=1)
        port = free_port()
        cfg = tcp_config(
            stats_socket=lb.stats_socket,
            bind_port=port,
            servers=[("web", server.server_address[1])],
            global_lines=[f"log 127.0.0.1:{syslog.getsockname()[1]} local2 info"],
            defaults_lines=["log global", "option httplog"],
            frontend_lines=["capture request header Host len 20"],
            mode="http",
        )
        lb.start(cfg)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/a?b=1", timeout=5) as r:
            assert r.read() == b"hello"
        line = _line(syslog)
        assert re.search(
            r"lb\[\d+\]: 127\.0\.0\.1:\d+ \[[^]]+\] fe be/web \d+/\d+/\d+/\d+/\d+ 200 \d+ - - ---- "
            r"\d+/\d+/\d+/\d+/0 0/0 \{127\.0\.0\.1:\d+\} \"GET /a\?b=1 HTTP/1\.1\"",
            line,
        ), line
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/missing", timeout=5)
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
        assert " 404 " in _line(syslog)
    finally:
        server.shutdown()
        server.server_close()


def test_seed_log_line_reaches_a_real_rsyslog(
    lb_factory: Callable[..., LbProcess], backend: Callable[..., Backend], tmp_path: Path
) -> None:
    """The seed's `log 127.0.0.1 local2 debug` (UDP 514), rsyslog writing local2 to its own file."""
    need_root()  # UDP 514
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", 514))
        except OSError as exc:
            pytest.fail(f"UDP 127.0.0.1:514 is taken on this machine: {exc}")
    (tmp_path / "rsyslog").mkdir()
    rsyslog = Rsyslog(tmp_path / "rsyslog", port=514)
    try:
        echo = backend("echo", name="echo")
        lb = lb_factory(workers=1)
        port = free_port()
        lb.start(
            tcp_config(
                stats_socket=lb.stats_socket,
                bind_port=port,
                servers=[("echo", echo.port)],
                global_lines=["log         127.0.0.1 local2   debug"],
                defaults_lines=["log global", "option tcplog"],
            )
        )
        time.sleep(0.3)  # rsyslog's UDP input is up
        assert echo_roundtrip(port, b"to the log\n") == b"to the log\n"
        lines = rsyslog.wait_for(rsyslog.local2, "fe be/echo")
        facility, severity, _host, tag, _pid, msg = lines[-1].split("|", 5)
        assert (facility, severity, tag) == ("local2", "info", "lb")
        assert " 11 -- " in msg  # bytes and termination state of the session
    finally:
        rsyslog.stop()
