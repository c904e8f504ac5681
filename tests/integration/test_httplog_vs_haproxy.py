"""lb's httplog lines and a real HAProxy's agree field for field for the same requests.

Both proxies run the same configuration (ports aside) in front of the same backend and log to
UDP sockets of the test. Compared: everything but dates, timers, pids, the syslog tag, the
client port, the connection counters (process state) and %B (HAProxy 2.6 logs its internal
message size, lb the bytes on the wire).
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.clients import free_port
from tests.support.haproxy_log import HTTP_FIELDS, comparable, split_fields
from tests.support.lbproc import LbProcess
from tests.support.peers import need_command

IGNORED = {"tag", "conns", "bytes", "client"}

CONFIG = """\
global
    log 127.0.0.1:{log_port} local2 info
{stats}
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port}
    capture request header Host len 20
    capture response header Content-Type len 10
    default_backend be
backend be
    server web 127.0.0.1:{backend_port}
"""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, body: bool) -> None:
        payload = b"hello there"
        self.send_response(404 if "missing" in self.path else 200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def do_GET(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _requests(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    host = {"Host": "www.example.test"}  # the same captured Host for both proxies
    with urllib.request.urlopen(
        urllib.request.Request(f"{base}/a?x=1", headers=host), timeout=5
    ) as r:
        r.read()
    try:
        urllib.request.urlopen(urllib.request.Request(f"{base}/missing", headers=host), timeout=5)
    except urllib.error.HTTPError as exc:
        exc.read()
    req = urllib.request.Request(f"{base}/head", method="HEAD", headers=host)
    with urllib.request.urlopen(req, timeout=5) as r:
        r.read()


def _drain(sock: socket.socket) -> None:
    sock.setblocking(False)
    try:
        while sock.recv(65536):
            pass
    except BlockingIOError:
        pass
    sock.settimeout(5)


def _collect(sock: socket.socket, n: int) -> list[dict[str, str | None]]:
    lines = []
    for _ in range(n):
        lines.append(split_fields(sock.recv(65536), HTTP_FIELDS))
    return lines


def test_httplog_agrees_with_haproxy(
    lb_factory: Callable[..., LbProcess], web: int, tmp_path: Path
) -> None:
    haproxy = need_command("haproxy")
    logs = {}
    for who in ("haproxy", "lb"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.settimeout(5)
        logs[who] = s
    hap_port, lb_port = free_port(), free_port()
    hap_cfg = tmp_path / "haproxy.cfg"
    hap_cfg.write_text(
        CONFIG.format(
            log_port=logs["haproxy"].getsockname()[1], stats="", port=hap_port, backend_port=web
        )
    )
    hap = subprocess.Popen([haproxy, "-db", "-f", str(hap_cfg)], stdin=subprocess.DEVNULL)
    try:
        lb = lb_factory(workers=1)
        lb.start(
            CONFIG.format(
                log_port=logs["lb"].getsockname()[1],
                stats=f"    stats socket {lb.stats_socket} mode 600 level admin",
                port=lb_port,
                backend_port=web,
            )
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", hap_port)) == 0:
                    break
            time.sleep(0.05)
        time.sleep(0.3)  # the probe above is logged (an empty connection): drop that line
        _drain(logs["haproxy"])
        _requests(hap_port)
        _requests(lb_port)
        theirs = _collect(logs["haproxy"], 3)
        ours = _collect(logs["lb"], 3)
    finally:
        hap.kill()
        hap.wait()
        for s in logs.values():
            s.close()
    for h, o in zip(theirs, ours, strict=True):
        hf = {k: v for k, v in comparable(h).items() if k not in IGNORED}
        of = {k: v for k, v in comparable(o).items() if k not in IGNORED}
        assert of == hf, (o["msg"], h["msg"])
        assert (o["client"] or "").split(":")[0] == (h["client"] or "").split(":")[0]
