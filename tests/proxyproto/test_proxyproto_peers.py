"""The PROXY protocol against Debian's HAProxy, both ways, in mode tcp and mode http.

- HAProxy in front of lb (``server … send-proxy[-v2]`` → ``bind … accept-proxy``): the
  client lb logs, and the X-Forwarded-For / ``src_port`` its backend sees, are the real
  client's — its address and the very source port it used;
- lb in front of HAProxy (lb's ``send-proxy[-v2]`` → HAProxy's ``accept-proxy``): HAProxy's
  ``option forwardfor`` and ``%[src_port]`` at the backend name the real client;
- a connection to an accept-proxy bind without a header is closed, nothing reaches a server.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.http.conftest import HaproxyProcess
from tests.support.backends import Backend
from tests.support.clients import free_port, recv_exact
from tests.support.http_servers import HttpBackend
from tests.support.lbproc import LbProcess
from tests.support.peers import need_command

SEND = {1: "send-proxy", 2: "send-proxy-v2"}


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[Callable[[Callable[[str], str]], HaproxyProcess]]:
    """``haproxy(lambda sock: CFG)``: HAProxy started with CFG (its stats socket given)."""
    started: list[HaproxyProcess] = []
    binary = need_command("haproxy")

    def start(config: Callable[[str], str]) -> HaproxyProcess:
        d = tmp_path / f"haproxy{len(started)}"
        d.mkdir()
        hap = HaproxyProcess(d, binary)
        started.append(hap)
        hap.start(config(hap.stats_socket), 0)
        return hap

    yield start
    for hap in started:
        hap.close()


@pytest.fixture
def syslog() -> Iterator[socket.socket]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    yield s
    s.close()


def _head(stats_socket: str, mode: str, global_lines: str = "") -> str:
    return (
        "global\n"
        f"    stats socket {stats_socket} mode 600 level admin\n"
        "    hard-stop-after 5s\n"
        f"{global_lines}"
        "defaults\n"
        f"    mode {mode}\n"
        "    timeout connect 2s\n"
        "    timeout client 30s\n"
        "    timeout server 30s\n"
    )


def _http_get(port: int, path: str = "/") -> tuple[int, bytes]:
    """One request on its own connection; (the client's source port, the response)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        client_port = s.getsockname()[1]
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return client_port, data


def _header(req: dict[str, object], name: str) -> str | None:
    for k, v in req["headers"]:  # type: ignore[attr-defined]
        if k.lower() == name:
            return str(v)
    return None


def _log_client(syslog: socket.socket) -> str:
    """The client field (ip:port) of the next httplog/tcplog line."""
    line = syslog.recv(65536).decode()
    m = re.search(r"\]: (\S+) \[", line)
    assert m, line
    return m.group(1)


# --------------------------------------------------------------------------- HAProxy → lb


@pytest.mark.parametrize("version", [1, 2])
def test_haproxy_in_front_of_lb_http(
    version: int,
    haproxy: Callable[[Callable[[str], str]], HaproxyProcess],
    lb_factory: Callable[..., LbProcess],
    http_backend: Callable[..., HttpBackend],
    syslog: socket.socket,
) -> None:
    srv = http_backend("s1")
    lb = lb_factory(workers=2)
    lb_port, hap_port = free_port(), free_port()
    lb.start(
        _head(lb.stats_socket, "http", f"    log 127.0.0.1:{syslog.getsockname()[1]} local0\n")
        + "    log global\n    option httplog\n"
        + "frontend fe\n"
        + f"    bind 127.0.0.1:{lb_port} accept-proxy\n"
        + "    option forwardfor\n"
        + "    http-request set-header X-Src-Port %[src_port]\n"
        + "    default_backend be\n"
        + "backend be\n"
        + "    balance source\n"
        + f"    server s1 127.0.0.1:{srv.port}\n"
    )
    haproxy(
        lambda sock: (
            _head(sock, "http")
            + f"frontend hfe\n    bind 127.0.0.1:{hap_port}\n    default_backend hbe\n"
            + f"backend hbe\n    server lb 127.0.0.1:{lb_port} {SEND[version]}\n"
        )
    )
    for i in range(2):  # two clients, two source ports: each is named by its own header
        client_port, resp = _http_get(hap_port, f"/r{i}")
        assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
        req = srv.wait_requests(i + 1)[i]
        assert req["target"] == f"/r{i}"
        assert _header(req, "x-forwarded-for") == "127.0.0.1"
        assert _header(req, "x-src-port") == str(client_port)
        assert _log_client(syslog) == f"127.0.0.1:{client_port}"


@pytest.mark.parametrize("version", [1, 2])
def test_haproxy_in_front_of_lb_tcp(
    version: int,
    haproxy: Callable[[Callable[[str], str]], HaproxyProcess],
    lb_factory: Callable[..., LbProcess],
    backend: Callable[..., Backend],
    syslog: socket.socket,
) -> None:
    echo = backend("echo", name="echo")
    lb = lb_factory(workers=2)
    lb_port, hap_port = free_port(), free_port()
    lb.start(
        _head(lb.stats_socket, "tcp", f"    log 127.0.0.1:{syslog.getsockname()[1]} local0\n")
        + "    log global\n    option tcplog\n"
        + f"frontend fe\n    bind 127.0.0.1:{lb_port} accept-proxy\n    default_backend be\n"
        + f"backend be\n    balance source\n    server echo 127.0.0.1:{echo.port}\n"
    )
    haproxy(
        lambda sock: (
            _head(sock, "tcp")
            + f"frontend hfe\n    bind 127.0.0.1:{hap_port}\n    default_backend hbe\n"
            + f"backend hbe\n    server lb 127.0.0.1:{lb_port} {SEND[version]}\n"
        )
    )
    with socket.create_connection(("127.0.0.1", hap_port), timeout=10) as s:
        client_port = s.getsockname()[1]
        s.sendall(b"first bytes after the header")
        assert recv_exact(s, 28) == b"first bytes after the header"  # nothing eaten, nothing added
    assert _log_client(syslog) == f"127.0.0.1:{client_port}"


# --------------------------------------------------------------------------- lb → HAProxy


def _haproxy_behind(hap_port: int, srv: HttpBackend) -> Callable[[str], str]:
    return lambda sock: (
        _head(sock, "http")
        + f"frontend hfe\n    bind 127.0.0.1:{hap_port} accept-proxy\n"
        + "    option forwardfor\n"
        + "    http-request set-header X-Client-Port %[src_port]\n"
        + "    default_backend hbe\n"
        + f"backend hbe\n    server s1 127.0.0.1:{srv.port}\n"
    )


@pytest.mark.parametrize("mode", ["http", "tcp"])
@pytest.mark.parametrize("version", [1, 2])
def test_lb_in_front_of_haproxy(
    mode: str,
    version: int,
    haproxy: Callable[[Callable[[str], str]], HaproxyProcess],
    lb_factory: Callable[..., LbProcess],
    http_backend: Callable[..., HttpBackend],
) -> None:
    srv = http_backend("s1")
    lb_port, hap_port = free_port(), free_port()
    haproxy(_haproxy_behind(hap_port, srv))
    lb = lb_factory(workers=1)  # one worker: an idle pool shared by all the clients
    reuse = "    http-reuse always\n" if mode == "http" else ""
    lb.start(
        _head(lb.stats_socket, mode)
        + f"frontend fe\n    bind 127.0.0.1:{lb_port}\n    default_backend be\n"
        + f"backend be\n{reuse}    server hap 127.0.0.1:{hap_port} {SEND[version]}\n"
    )
    for i in range(3):
        client_port, resp = _http_get(lb_port, f"/r{i}")
        assert resp.startswith(b"HTTP/1.1 200"), resp[:200]
        req = srv.wait_requests(i + 1)[i]
        assert _header(req, "x-forwarded-for") == "127.0.0.1"
        assert _header(req, "x-client-port") == str(client_port)


def test_lb_http_send_proxy_connections_stay_with_their_client(
    haproxy: Callable[[Callable[[str], str]], HaproxyProcess],
    lb_factory: Callable[..., LbProcess],
    http_backend: Callable[..., HttpBackend],
) -> None:
    """As in HAProxy, a server connection that began with a client's PROXY header serves
    that client connection only: keep-alive requests of one client share it, another
    client (even with ``http-reuse always``) gets its own."""
    srv = http_backend("s1")
    lb_port, hap_port = free_port(), free_port()
    haproxy(_haproxy_behind(hap_port, srv))
    lb = lb_factory(workers=1)
    lb.start(
        _head(lb.stats_socket, "http")
        + f"frontend fe\n    bind 127.0.0.1:{lb_port}\n    default_backend be\n"
        + f"backend be\n    http-reuse always\n    server hap 127.0.0.1:{hap_port} send-proxy-v2\n"
    )
    a = socket.create_connection(("127.0.0.1", lb_port), timeout=10)
    b = socket.create_connection(("127.0.0.1", lb_port), timeout=10)
    try:
        for s in (a, b, a, b):
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(65536)
            assert head.startswith(b"HTTP/1.1 200"), head
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            body = head.split(b"\r\n\r\n", 1)[1]
            if len(body) < length:
                recv_exact(s, length - len(body))
        reqs = srv.wait_requests(4)
        ports = [_header(r, "x-client-port") for r in reqs]
        assert ports == [str(x.getsockname()[1]) for x in (a, b, a, b)]
    finally:
        a.close()
        b.close()


# --------------------------------------------------------------------------- no header


def _closed_without_answer(s: socket.socket, timeout: float = 5.0) -> bool:
    s.settimeout(timeout)
    try:
        return s.recv(4096) == b""
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("mode", ["tcp", "http"])
def test_no_header_is_closed_and_reaches_no_server(
    mode: str,
    lb_factory: Callable[..., LbProcess],
    http_backend: Callable[..., HttpBackend],
) -> None:
    srv = http_backend("s1")
    lb = lb_factory(workers=2)
    port = free_port()
    forwardfor = "    option forwardfor\n" if mode == "http" else ""
    lb.start(
        _head(lb.stats_socket, mode).replace("timeout client 30s", "timeout client 1s")
        + f"frontend fe\n    bind 127.0.0.1:{port} accept-proxy\n{forwardfor}"
        + "    default_backend be\n"
        + f"backend be\n    server s1 127.0.0.1:{srv.port}\n"
    )
    # bytes that are no header: closed at once
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert _closed_without_answer(s)
    # a v1 line that is not valid
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert _closed_without_answer(s)
    # a header begun and never finished, or nothing at all: closed at timeout client
    for first in (b"PROXY TCP4 1.2", b""):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(first)
            t0 = time.monotonic()
            assert _closed_without_answer(s)
            assert 0.7 < time.monotonic() - t0 < 4.0
    time.sleep(0.2)
    assert srv.accepted() == 0
    # and a proper header in pieces, then the request, still gets through
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for piece in (b"\r\n\r\n\x00", b"\r\nQUIT\n\x21\x11", b"\x00\x0c\xc0\x00\x02\x07"):
            s.sendall(piece)
            time.sleep(0.05)
        s.sendall(b"\x7f\x00\x00\x01\x9c\x41\x00\x50GET / HTTP/1.1\r\nHost: t\r\n")
        s.sendall(b"Connection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200"), data[:200]
    (req,) = srv.wait_requests(1)
    assert req["target"] == "/"
    # the header's client (192.0.2.7:40001); in mode tcp the bytes after it, as they were
    assert _header(req, "x-forwarded-for") == ("192.0.2.7" if mode == "http" else None)
    assert lb.running()


@pytest.mark.parametrize("version", [1, 2])
def test_http_checks_of_a_send_proxy_server_carry_a_header(
    version: int,
    haproxy: Callable[[Callable[[str], str]], HaproxyProcess],
    lb_factory: Callable[..., LbProcess],
    http_backend: Callable[..., HttpBackend],
) -> None:
    """As HAProxy does without ``port``/``addr``: the check's own header (v2 LOCAL,
    v1 UNKNOWN), so a server that demands one (HAProxy's accept-proxy) answers it."""
    srv = http_backend("s1")
    lb_port, hap_port = free_port(), free_port()
    haproxy(_haproxy_behind(hap_port, srv))
    lb = lb_factory(workers=1)
    lb.start(
        _head(lb.stats_socket, "http")
        + f"frontend fe\n    bind 127.0.0.1:{lb_port}\n    default_backend be\n"
        + "backend be\n    option httpchk GET /chk\n"
        + f"    server hap 127.0.0.1:{hap_port} {SEND[version]} check inter 100ms\n"
    )
    reqs = srv.wait_requests(3)
    assert len(reqs) >= 3 and {r["target"] for r in reqs} == {"/chk"}
    state = lb.api("show servers state").splitlines()
    columns = state[1].lstrip("# ").split()
    row = dict(zip(columns, state[2].split(), strict=True))
    assert row["srv_op_state"] == "2" and row["srv_check_status"] != "0", row


@pytest.mark.parametrize("mode", ["tcp", "http"])
def test_rules_and_logs_see_the_header_client(
    mode: str,
    lb_factory: Callable[..., LbProcess],
    http_backend: Callable[..., HttpBackend],
    syslog: socket.socket,
) -> None:
    """ACL ``src``/``src_port`` and the log's client (``%ci:%cp``), frontend address
    (``%fi:%fp``) are the header's: a client that says 192.0.2.7:40001 goes where that
    address is sent, whatever its real address."""
    other, chosen = http_backend("other"), http_backend("chosen")
    lb = lb_factory(workers=2)
    port = free_port()
    lb.start(
        _head(lb.stats_socket, mode, f"    log 127.0.0.1:{syslog.getsockname()[1]} local0\n")
        + "    log global\n"
        + '    log-format "%ci:%cp %fi:%fp %b"\n'
        + f"frontend fe\n    bind 127.0.0.1:{port} accept-proxy\n"
        + "    use_backend chosen if { src 192.0.2.0/24 } { src_port 40001 }\n"
        + "    default_backend other\n"
        + f"backend other\n    server s 127.0.0.1:{other.port}\n"
        + f"backend chosen\n    server s 127.0.0.1:{chosen.port}\n"
    )
    for header, expected in (
        (b"PROXY TCP4 192.0.2.7 198.51.100.1 40001 443\r\n", "chosen"),
        (b"PROXY TCP4 192.0.2.7 198.51.100.1 40002 443\r\n", "other"),
        (b"PROXY UNKNOWN\r\n", "other"),  # the connection's own address then
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(header + b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            own = s.getsockname()
        assert f"x-server: {expected}".encode() in data.lower(), data[:300]
        line = syslog.recv(65536).decode()
        if header.startswith(b"PROXY TCP4"):
            sport = header.split()[4].decode()
            assert f"]: 192.0.2.7:{sport} 198.51.100.1:443 {expected}" in line, line
        else:
            assert f"]: 127.0.0.1:{own[1]} 127.0.0.1:{port} {expected}" in line, line
