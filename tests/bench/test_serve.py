"""``lb-bench serve`` against real clients: HTTP chosen by query, TCP sink and source."""

import socket
import struct
import time

import pytest

from lb.bench.httpwire import ResponseReader
from tests.bench.conftest import Served, start_serve, stop_serve
from tests.support.procs import descendants, wait_gone


def exchange(
    port: int, raw: bytes, responses: int = 1, head_only: bool = False
) -> tuple[list[tuple[int, int, bool]], bytes]:
    """Send raw; read until ``responses`` responses are complete (or EOF)."""
    got: list[tuple[int, int, bool]] = []
    reader = ResponseReader(lambda s, b, c: got.append((s, b, c)), head_only)
    head = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        while len(got) < responses:
            data = s.recv(1 << 20)
            if not data:
                reader.eof()
                break
            if not head:
                head = data[: data.find(b"\r\n\r\n")]
            reader.feed(data)
    return got, head


def get(path: str, extra: str = "", method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}\r\n".encode()


@pytest.mark.parametrize(
    ("path", "status", "size"),
    [
        ("/", 200, 0),
        ("/?s=128", 200, 128),
        ("/static/a.css?s=20k&r=404", 404, 20_000),
        ("/?s=3m", 200, 3_000_000),  # streamed from a shared buffer
        ("/?s=100k&c=1", 200, 100_000),
        ("/?s=2500000&c=1", 200, 2_500_000),  # chunked and streamed
        ("/?r=503&s=10", 503, 10),
    ],
)
def test_http_size_and_status(serve: Served, path: str, status: int, size: int) -> None:
    got, head = exchange(serve.http, get(path))
    assert got == [(status, size, False)]
    assert (b"Transfer-Encoding: chunked" in head) == ("c=1" in path)


def test_http_delay(serve: Served) -> None:
    t0 = time.monotonic()
    got, _ = exchange(serve.http, get("/?t=120ms&s=5"))
    assert got == [(200, 5, False)]
    assert time.monotonic() - t0 >= 0.12


def test_pipelined_answers_keep_request_order_behind_a_delay(serve: Served) -> None:
    raw = get("/?s=1&t=100ms") + get("/?s=2") + get("/?s=3m") + get("/?s=4&r=201")
    got, _ = exchange(serve.http, raw, responses=4)
    assert got == [(200, 1, False), (200, 2, False), (200, 3_000_000, False), (201, 4, False)]


def test_close_either_way_and_head(serve: Served) -> None:
    got, head = exchange(serve.http, get("/?s=10", "Connection: close\r\n"), responses=2)
    assert got == [(200, 10, True)] and b"Connection: close" in head
    got, _ = exchange(serve.http, get("/?s=10&k=0") + get("/?s=1"), responses=2)
    assert got == [(200, 10, True)]  # the server closed after the first: no second answer
    raw = get("/?s=5000", method="HEAD") + get("/?s=1", method="HEAD")
    got, head = exchange(serve.http, raw, responses=2, head_only=True)
    assert got == [(200, 0, False), (200, 0, False)]  # no body bytes came: the reader saw both
    assert b"Content-Length: 5000" in head


def test_bad_query_and_bad_request(serve: Served) -> None:
    got, _ = exchange(serve.http, get("/?s=lots"), responses=2)
    assert got == [(400, len("s=lots: not a size: 'lots' (examples: 128, 20k, 1m, 64ki)\n"), True)]
    got, _ = exchange(serve.http, b"BREW /pot HTCPCP/1.0\r\n\r\n", responses=2)
    assert got[0][0] == 400 and got[0][2]


def tcp_upload(port: int, payload: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"U" + payload)
        s.shutdown(socket.SHUT_WR)
        ack = b""
        while len(ack) < 8 and (chunk := s.recv(8)):
            ack += chunk
    return struct.unpack("!Q", ack)[0]


@pytest.mark.parametrize("size", [0, 1, 8, 9, 70_000, 5_000_000])
def test_tcp_sink_counts_every_byte(serve: Served, size: int) -> None:
    assert tcp_upload(serve.tcp, bytes(size)) == size


@pytest.mark.parametrize("size", [1, 1_000_000, 40_000_000])
def test_tcp_source_sends_what_was_asked(serve: Served, size: int) -> None:
    total = 0
    with socket.create_connection(("127.0.0.1", serve.tcp), timeout=10) as s:
        s.sendall(b"D")
        s.sendall(struct.pack("!Q", size))  # the header may come in pieces
        while chunk := s.recv(1 << 20):
            total += len(chunk)
    assert total == size


def test_tcp_unknown_stream_is_closed(serve: Served) -> None:
    with socket.create_connection(("127.0.0.1", serve.tcp), timeout=10) as s:
        s.sendall(b"hello")
        assert s.recv(10) == b""


def test_several_workers_share_the_ports() -> None:
    s = start_serve("--workers", "2", "--http", "0")
    try:
        assert s.tcp == 0
        for _ in range(20):
            got, _ = exchange(s.http, get("/?s=7", "Connection: close\r\n"))
            assert got == [(200, 7, True)]
    finally:
        err = stop_serve(s)
    assert "Traceback" not in err


def test_workers_do_not_outlive_serve() -> None:
    s = start_serve("--workers", "2")
    deadline = time.monotonic() + 10
    while len(kids := descendants(s.proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    s.proc.kill()  # no chance to clean up: the workers must notice on their own
    s.proc.wait()
    left = wait_gone(kids, 5)
    for r in left:
        r.kill()
    assert len(kids) == 2 and not left
