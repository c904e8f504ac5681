#!/usr/bin/env python3
"""The Python cost of one keep-alive exchange through lb's HTTP session, without sockets.

    .venv/bin/python bench/http_session_micro.py [--requests 200000] [--profile]

A real ``HttpSession`` and ``UpstreamConnection`` (httptools on both sides, the real
settings, backend and pool) are driven by hand: the request bytes wrk sends go to
``data_received``, the response nginx sends for a 128-byte file goes to the server
connection's ``data_received``; transports are stubs that drop what is written. What
is timed is everything lb's own code does per request — parsing, validation,
routing, rewriting, rendering, counters — and nothing of the kernel or the event
loop. ``bench/http_small.py`` measures the whole; this isolates lb's part of it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import mmap
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uvloop  # noqa: E402

from lb._native import SharedCounters  # noqa: E402
from lb.config.model import Global, Proxy, Server, Source  # noqa: E402
from lb.stats.counters import ObjectCounters  # noqa: E402
from lb.worker.backends import Backend, ServerTarget  # noqa: E402
from lb.worker.http.session import HttpSession  # noqa: E402
from lb.worker.http.settings import HttpSettings  # noqa: E402
from lb.worker.http.upstream import ServerPool, UpstreamConnection  # noqa: E402

REQUEST = b"GET /small.txt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 21 Nov 2026 08:00:00 GMT\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 128\r\n"
    b"Last-Modified: Sat, 21 Nov 2026 08:00:00 GMT\r\nConnection: keep-alive\r\n"
    b'ETag: "6566f0-80"\r\nAccept-Ranges: bytes\r\n\r\n' + b"x" * 127 + b"\n"
)


class StubTransport(asyncio.Transport):
    """Takes writes and drops them; counts bytes so the run can be checked."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0

    def write(self, data: Any) -> None:
        self.written += len(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 8080)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass


class StubWorker:
    """What an HttpSession asks of its worker, minus sockets and processes."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.clock = loop.time()
        self.http_sessions: set[HttpSession] = set()
        self.pool = ServerPool()
        self.stick_rules: dict[str, object] = {}  # no stick tables (lb.sticktable)
        self.stick_tables: dict[str, object] = {}

    def server_pool(self, target: ServerTarget, sni: str = "") -> ServerPool:
        return self.pool

    def slot_released(self) -> None:
        pass

    def session_closed(self, session: object) -> None:
        pass


class StubFrontend:
    name = "fe"
    logger = None
    rules = None  # no ACLs: the static route
    stats = ObjectCounters()


def build(loop: asyncio.AbstractEventLoop) -> tuple[HttpSession, UpstreamConnection]:
    src = Source("micro", 1)
    backend_proxy = Proxy(
        "be", "backend", src, mode="http", servers=[Server("s1", "127.0.0.1", 8081, src)]
    )
    frontend_proxy = Proxy("fe", "frontend", src, mode="http", default_backend="be")
    fd = os.memfd_create("micro")
    os.ftruncate(fd, 4096)
    counters = SharedCounters(mmap.mmap(fd, 4096), fd)
    target = ServerTarget(0, "be", backend_proxy.servers[0], 2, ("127.0.0.1", 8081), 1)
    backend = Backend(backend_proxy, [target], counters, 0)
    settings = HttpSettings(frontend_proxy, backend_proxy, backend, Global(), {})
    worker = StubWorker(loop)
    session = HttpSession(worker, StubFrontend(), settings)  # type: ignore[arg-type]
    session.connection_made(StubTransport())
    session.requests_done = 1  # past the first request: http-reuse safe takes pooled ones
    conn = UpstreamConnection(worker.pool)
    conn.connection_made(StubTransport())
    worker.pool.put(conn, worker.clock)
    return session, conn


def run(requests: int) -> float:
    loop = uvloop.new_event_loop()
    session, conn = build(loop)
    client, server = session.transport, conn.transport
    assert isinstance(client, StubTransport) and isinstance(server, StubTransport)
    feed_request, feed_response = session.data_received, conn.data_received
    start = time.perf_counter()
    for _ in range(requests):
        feed_request(REQUEST)
        feed_response(RESPONSE)
    elapsed = time.perf_counter() - start
    if session.closed or session.requests_done != requests + 1:
        raise SystemExit(f"the session did not serve every request: {session.requests_done - 1}")
    if client.written < requests * 128 or server.written < requests * len(b"GET /small.txt"):
        raise SystemExit("bytes missing on one side")
    loop.close()
    return elapsed / requests * 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="cProfile one round, top 25")
    args = ap.parse_args()
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run(args.requests)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return 0
    results = sorted(run(args.requests) for _ in range(args.rounds))
    print(
        f"HttpSession keep-alive exchange: {results[len(results) // 2]:.2f} µs/request "
        f"(median of {args.rounds} rounds of {args.requests}; min {results[0]:.2f}, "
        f"max {results[-1]:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
