"""mode tcp proxying: bytes arrive intact both ways, half-close, retries and redispatch."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.backends import Backend
from tests.support.clients import (
    connect,
    download,
    echo_roundtrip,
    free_port,
    recv_all,
    recv_line,
    upload,
)
from tests.support.lbproc import LbProcess, StartLb, tcp_config
from tests.support.servers import pattern_digest

MB = 1 << 20

BackendFactory = Callable[..., Backend]


@pytest.mark.slow
def test_upload_100mb_digest_matches(start_lb: StartLb, backend: BackendFactory) -> None:
    sink = backend("sink", name="sink")
    _lb, port = start_lb([("sink", sink.port)])
    size = 100 * MB
    digest, count = upload(port, seed=7, size=size)
    assert count == size
    assert digest == pattern_digest(7, size)
    # what the backend recorded agrees
    (close,) = sink.wait_closes(1)
    assert close["rx"] == size and close["sha256"] == digest and not close["error"]


@pytest.mark.slow
def test_download_100mb_digest_matches(start_lb: StartLb, backend: BackendFactory) -> None:
    size = 100 * MB
    source = backend("source", name="source", size=size, seed=11)
    _lb, port = start_lb([("source", source.port)])
    digest, count = download(port)
    assert count == size
    assert digest == pattern_digest(11, size)


@pytest.mark.slow
def test_concurrent_streams_both_ways(start_lb: StartLb, backend: BackendFactory) -> None:
    size = 16 * MB
    sink = backend("sink", name="sink")
    source = backend("source", name="source", size=size, seed=5)
    sink_lb, sink_port = start_lb([("sink", sink.port)])
    _src_lb, src_port = start_lb([("source", source.port)])
    seeds = [101, 102, 103, 104]
    with ThreadPoolExecutor(max_workers=8) as pool:
        ups = {s: pool.submit(upload, sink_port, s, size + s) for s in seeds}
        downs = [pool.submit(download, src_port) for _ in seeds]
        for s, f in ups.items():
            assert f.result(timeout=120) == (pattern_digest(s, size + s), size + s)
        want = (pattern_digest(5, size), size)
        for f in downs:
            assert f.result(timeout=120) == want
    assert len(sink.wait_closes(len(seeds))) == len(seeds)
    assert sink_lb.running()


def test_many_short_connections(start_lb: StartLb, backend: BackendFactory) -> None:
    echo = backend("echo", name="echo")
    _lb, port = start_lb([("echo", echo.port)])
    for i in range(200):
        payload = b"x%d\n" % i
        assert echo_roundtrip(port, payload) == payload
    assert len(echo.opens()) == 200


def test_client_half_close_still_gets_answer(start_lb: StartLb, backend: BackendFactory) -> None:
    sink = backend("sink", name="sink")
    _lb, port = start_lb([("sink", sink.port)])
    with connect(port) as s:
        s.sendall(b"hello, half-closed world")
        s.shutdown(socket.SHUT_WR)
        # the sink only answers after it has seen our EOF through the proxy
        answer = recv_all(s)
    digest, count = answer.decode().split()
    assert int(count) == len(b"hello, half-closed world")
    assert digest == hashlib.sha256(b"hello, half-closed world").hexdigest()
    (close,) = sink.wait_closes(1)
    assert close["rx"] == int(count)


def test_server_half_close_client_can_still_send(
    start_lb: StartLb, backend: BackendFactory
) -> None:
    hc = backend("halfclose", name="hc")
    _lb, port = start_lb([("hc", hc.port)])
    payload = b"sent after the server's FIN " * 1000
    with connect(port) as s:
        assert recv_line(s) == b"hc\n"
        assert s.recv(1) == b""  # the server's half-close reached us as EOF
        time.sleep(0.2)  # the proxy must not tear the connection down meanwhile
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        assert s.recv(1) == b""
    # the backend received everything we sent after its FIN
    (close,) = hc.wait_closes(1)
    assert close["rx"] == len(payload), close
    assert not close["error"], close


def test_dead_server_first_redispatch(start_lb: StartLb, backend: BackendFactory) -> None:
    live = backend("hello", name="live")
    dead_port = free_port()  # nobody listens there
    _lb, port = start_lb(
        [("dead", dead_port), ("live", live.port)],
        defaults_lines=["retries 1", "option redispatch"],
        backend_lines=["balance roundrobin"],
    )
    n = 30
    for i in range(n):
        with connect(port) as s:
            assert recv_line(s) == b"live\n", f"connection {i}"
            payload = b"round trip %d\n" % i
            s.sendall(payload)
            assert recv_line(s) == payload
    assert len(live.opens()) == n


def test_dead_server_only_retries_then_closes(start_lb: StartLb, backend: BackendFactory) -> None:
    """retries 2 on the only (dead) server: 3 attempts with a turn-around delay between them
    (min(timeout connect, 1s) = 300 ms), then the client's connection is closed."""
    dead_port = free_port()
    _lb, port = start_lb(
        [("dead", dead_port)],
        defaults_lines=["retries 2", "timeout connect 300ms"],
    )
    with connect(port) as s:
        s.settimeout(10)
        t0 = time.monotonic()
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        elapsed = time.monotonic() - t0
    assert data == b""
    assert 0.45 <= elapsed < 5.0, elapsed


def test_roundrobin_spreads_over_servers(start_lb: StartLb, backend: BackendFactory) -> None:
    a = backend("hello", name="a")
    b = backend("hello", name="b")
    _lb, port = start_lb([("a", a.port), ("b", b.port)], workers=1)
    names = []
    for _ in range(10):
        with connect(port) as s:
            names.append(recv_line(s))
    assert names.count(b"a\n") == 5 and names.count(b"b\n") == 5, names


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ((1, 1, 1, 1), "s1 s2 s3 s4 s1 s2 s3 s4 s1"),
        # smooth: s1 never comes three times in a row; weight 0 is never picked
        ((3, 1, 0, 2), "s1 s4 s1 s2 s4 s1 s1 s4 s1"),
    ],
)
def test_roundrobin_order_is_global_across_workers(
    lb_factory: Callable[..., LbProcess],
    backend: BackendFactory,
    weights: tuple[int, ...],
    expected: str,
) -> None:
    """The order holds for the daemon, whichever of the 2 workers accepts each connection."""
    servers = [backend("hello", name=f"s{i + 1}") for i in range(len(weights))]
    lb = lb_factory(workers=2)
    port = free_port()
    lines = "".join(
        f"    server {s.name} 127.0.0.1:{s.port} weight {w}\n"
        for s, w in zip(servers, weights, strict=True)
    )
    cfg = tcp_config(stats_socket=lb.stats_socket, bind_port=port, servers=[])
    lb.start(cfg + lines)
    names = []
    for _ in expected.split():
        with connect(port) as s:
            names.append(recv_line(s).decode().strip())
    assert " ".join(names) == expected


def test_idle_client_timeout_closes(start_lb: StartLb, backend: BackendFactory) -> None:
    echo = backend("echo", name="echo")
    _lb, port = start_lb(
        [("echo", echo.port)],
        defaults_lines=["timeout client 500ms", "timeout server 500ms"],
    )
    with connect(port) as s:
        s.sendall(b"x")
        assert s.recv(1) == b"x"
        s.settimeout(10)
        t0 = time.monotonic()
        try:
            data = s.recv(1)
        except ConnectionResetError:
            data = b""
        elapsed = time.monotonic() - t0
    assert data == b""
    assert 0.3 <= elapsed < 5.0, elapsed
