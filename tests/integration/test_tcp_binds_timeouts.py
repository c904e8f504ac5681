"""Bind forms (IPv4, IPv6, any address, several per line), IPv6 servers, timeout connect,
and the daemon running on the pure-Python pump."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.backends import Backend
from tests.support.clients import echo_roundtrip, free_port, upload
from tests.support.lbproc import LbProcess, StartLb, tcp_config
from tests.support.servers import pattern_digest

BackendFactory = Callable[..., Backend]


@pytest.fixture
def echo6() -> Iterator[int]:
    """A threaded echo server on [::1]; yields its port."""
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.bind(("::1", 0))
    ls.listen(64)
    ls.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = ls.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept_loop, daemon=True)
    t.start()
    yield ls.getsockname()[1]
    stop.set()
    t.join(2)
    ls.close()


def _free_port6() -> int:
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return int(s.getsockname()[1])


def _roundtrip(family: int, host: str, port: int, payload: bytes) -> bytes:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect((host, port))
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return data


def test_ipv4_ipv6_any_address_and_several_binds_to_an_ipv6_server(
    lb_factory: Callable[..., LbProcess], echo6: int
) -> None:
    any_port, v6_port, v4_multi, v6_multi = free_port(), _free_port6(), free_port(), _free_port6()
    lb = lb_factory(workers=2)
    cfg = tcp_config(
        stats_socket=lb.stats_socket,
        bind_port=free_port(),
        servers=[],
        frontend_lines=[
            f"bind :{any_port}",
            f"bind [::1]:{v6_port}",
            f"bind 127.0.0.1:{v4_multi},[::1]:{v6_multi}",
        ],
    ).replace("\nbackend be\n", f"\nbackend be\n    server six [::1]:{echo6}\n")
    lb.start(cfg)
    cases = [
        (socket.AF_INET, "127.0.0.1", any_port),
        (socket.AF_INET6, "::1", v6_port),
        (socket.AF_INET, "127.0.0.1", v4_multi),
        (socket.AF_INET6, "::1", v6_multi),
    ]
    for family, host, port in cases:
        payload = f"via {host}:{port}\n".encode()
        assert _roundtrip(family, host, port, payload) == payload


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port whose accept queue is full: further SYNs are dropped, connects hang."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    time.sleep(0.2)
    probe = socket.socket()
    probe.settimeout(0.5)
    try:
        probe.connect(("127.0.0.1", port))
    except TimeoutError:
        pass
    else:
        pytest.fail("the accept queue did not fill: cannot make a hanging connect")
    finally:
        probe.close()
    yield port
    for c in fillers:
        c.close()
    ls.close()


def test_timeout_connect_then_redispatch(
    start_lb: StartLb, backend: BackendFactory, blackhole: int
) -> None:
    echo = backend("echo", name="echo")
    _lb, port = start_lb(
        [("hang", blackhole), ("echo", echo.port)],
        workers=1,
        defaults_lines=["retries 1", "option redispatch"],
        backend_lines=["timeout connect 300ms"],
    )
    # The first connection goes to the hanging server: 300 ms, then the retry is redispatched.
    t0 = time.monotonic()
    assert echo_roundtrip(port, b"patience\n") == b"patience\n"
    elapsed = time.monotonic() - t0
    assert 0.25 < elapsed < 2.0, elapsed


def test_timeout_connect_without_redispatch_closes_the_client(
    start_lb: StartLb, blackhole: int
) -> None:
    _lb, port = start_lb(
        [("hang", blackhole)],
        workers=1,
        defaults_lines=["retries 1"],
        backend_lines=["timeout connect 200ms"],
    )
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"anyone?\n")
        assert s.recv(100) == b""  # closed without an answer
    elapsed = time.monotonic() - t0
    # two attempts of 200 ms with a 200 ms turn-around between them
    assert 0.5 < elapsed < 3.0, elapsed


@pytest.mark.slow
def test_daemon_on_the_pure_python_pump(
    start_lb: StartLb, backend: BackendFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LB_NATIVE", "0")
    sink = backend("sink", name="sink")
    lb, port = start_lb([("sink", sink.port)], workers=1)
    environ = Path(f"/proc/{lb.workers()[0].pid}/environ").read_bytes().split(b"\0")
    assert b"LB_NATIVE=0" in environ
    size = 32 << 20
    assert upload(port, seed=3, size=size) == (pattern_digest(3, size), size)


def test_unconditional_use_backend_wins_over_default_backend(
    lb_factory: Callable[..., LbProcess], backend: BackendFactory
) -> None:
    default = backend("hello", name="default")
    chosen = backend("hello", name="chosen")
    lb = lb_factory(workers=1)
    port = free_port()
    cfg = tcp_config(
        stats_socket=lb.stats_socket,
        bind_port=port,
        servers=[("default", default.port)],
        frontend_lines=["use_backend other"],
    )
    lb.start(cfg + f"backend other\n    server chosen 127.0.0.1:{chosen.port}\n")
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            assert s.recv(100) == b"chosen\n"
    assert default.opens() == []


def test_timeout_tunnel_replaces_client_and_server_once_connected(
    start_lb: StartLb, backend: BackendFactory
) -> None:
    echo = backend("echo", name="echo")
    _lb, port = start_lb(
        [("echo", echo.port)],
        workers=1,
        defaults_lines=["timeout client 300ms", "timeout server 300ms", "timeout tunnel 3s"],
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"a\n")
        assert s.recv(10) == b"a\n"
        time.sleep(1.2)  # four times client/server, well within tunnel
        s.sendall(b"b\n")
        assert s.recv(10) == b"b\n"
        t0 = time.monotonic()
        assert s.recv(10) == b""  # closed once the tunnel timeout passes
        assert 2.0 < time.monotonic() - t0 < 5.0
