"""tcp-request content in a real lb (2 workers), and the same file in Debian's haproxy 2.6:

- SNI passthrough: the ClientHello is peeked, routed by req_ssl_sni to the a.test or the
  b.test TLS server, and the end-to-end handshake then works (nothing was consumed);
- a plain-text client is dropped by ``reject if { req.len gt 0 } !{ req_ssl_hello_type 1 }``
  (counted in the frontend's dreq);
- a silent client waits for inspect-delay, then goes to default_backend.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.http.conftest import HaproxyProcess
from tests.support.api import api_call
from tests.support.clients import LOCAL, free_port
from tests.support.lbproc import LbProcess
from tests.support.peers import need_command
from tests.tls.conftest import Certs
from tests.tls.tls_servers import TlsServer

DELAY = 1.0  # s: inspect-delay


class Greeter:
    """A plain TCP server that says "other" to whoever connects."""

    def __init__(self) -> None:
        self.sock = socket.create_server((LOCAL, 0))
        self.port = int(self.sock.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                conn.sendall(b"other\n")
            finally:
                conn.close()

    def stop(self) -> None:
        self.sock.close()


def config(port: int, stats_socket: str, a: int, b: int, other: int) -> str:
    return f"""\
global
    stats socket {stats_socket} level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind {LOCAL}:{port}
    tcp-request inspect-delay {int(DELAY * 1000)}ms
    tcp-request content reject if {{ req.len gt 0 }} !{{ req_ssl_hello_type 1 }}
    tcp-request content accept if {{ req_ssl_hello_type 1 }}
    use_backend a if {{ req_ssl_sni -i a.test }}
    use_backend b if {{ req.ssl_sni -m end .b.test }} || {{ req_ssl_sni b.test }}
    default_backend other
backend a
    server s {LOCAL}:{a}
backend b
    server s {LOCAL}:{b}
backend other
    server s {LOCAL}:{other}
"""


class Started:
    def __init__(self, port: int, stats_socket: str) -> None:
        self.port = port
        self.stats_socket = stats_socket

    def frontend_stat(self, column: str) -> int:
        lines = api_call(self.stats_socket, "show stat", 5.0).splitlines()
        names = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(names, line.split(","), strict=False))
            if row.get("pxname") == "fe" and row.get("svname") == "FRONTEND":
                return int(row[column] or 0)
        raise AssertionError(lines)


@pytest.fixture(params=["lb", "haproxy"])
def proxy(
    request: pytest.FixtureRequest,
    lb_factory: Callable[..., LbProcess],
    tmp_path: Path,
    certs: Certs,
) -> Iterator[Started]:
    a, b, other = TlsServer("a", certs.a), TlsServer("b", certs.b), Greeter()
    port = free_port()
    hap: HaproxyProcess | None = None
    try:
        if request.param == "lb":
            lb = lb_factory(workers=2)
            lb.start(config(port, lb.stats_socket, a.port, b.port, other.port))
            yield Started(port, lb.stats_socket)
        else:
            hap = HaproxyProcess(tmp_path, need_command("haproxy"))
            hap.start(config(port, hap.stats_socket, a.port, b.port, other.port), port)
            yield Started(port, hap.stats_socket)
    finally:
        if hap is not None:
            hap.close()
        a.stop()
        b.stop()
        other.stop()


def get_over_tls(port: int, name: str, certs: Certs) -> bytes:
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    raw = socket.create_connection((LOCAL, port), timeout=5)
    with ctx.wrap_socket(raw, server_hostname=name) as s:  # verifies the name: end to end
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"conn=" not in data or not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n\r\n", 1)[-1]


def test_sni_passthrough(proxy: Started, certs: Certs) -> None:
    assert get_over_tls(proxy.port, "a.test", certs).startswith(b"a sni=a.test ")
    assert get_over_tls(proxy.port, "b.test", certs).startswith(b"b sni=b.test ")
    assert get_over_tls(proxy.port, "x.b.test", certs).startswith(b"b sni=x.b.test ")


def read_all(s: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def test_a_plain_text_client_is_dropped(proxy: Started) -> None:
    before = proxy.frontend_stat("dreq")
    with socket.create_connection((LOCAL, proxy.port), timeout=5) as s:
        s.sendall(b"hello there\r\n")
        started = time.monotonic()
        assert read_all(s) == b""
        assert time.monotonic() - started < DELAY  # decided on the bytes, not by the delay
    deadline = time.monotonic() + 3
    while proxy.frontend_stat("dreq") != before + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proxy.frontend_stat("dreq") == before + 1


def test_a_silent_client_goes_to_the_default_backend_after_the_delay(proxy: Started) -> None:
    with socket.create_connection((LOCAL, proxy.port), timeout=5) as s:
        started = time.monotonic()
        assert read_all(s) == b"other\n"
        assert time.monotonic() - started >= DELAY * 0.9
