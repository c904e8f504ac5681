"""``lb-bench serve``: the backends the benchmarks proxy to, fast enough not to be the bottleneck.

HTTP (uvloop + httptools): the request target chooses the response (lb.bench.responses);
keep-alive, pipelining (answers leave in request order, a delayed one holds back those behind
it), ``Connection: close`` either way. TCP: the first byte says what the stream is — ``U``:
a sink that drains with ``splice`` into /dev/null and, at the client's half-close, answers the
byte count as 8 bytes big-endian; ``D`` + 8-byte count: a source that sends that many bytes
(0 = until the client goes away) with ``sendfile`` from a memfd. Neither copies payload
through Python. Several workers share each port through SO_REUSEPORT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
from collections import deque

import httptools

from lb.bench.responses import BODY, SLICE, BadQuery, Catalog, error_response

F_SETPIPE_SZ = 1031
PIPE_SIZE = 1 << 20
SPLICE_BURST = 16  # splice calls per readiness event before letting other streams run
SOURCE_SIZE = 16 << 20
COUNT = struct.Struct("!Q")


# ------------------------------------------------------------------------------------ HTTP


class _Pending:
    """A response waiting its turn on a pipelined connection."""

    __slots__ = ("chunked", "close", "data", "more", "ready")

    def __init__(self, data: bytes, more: int, chunked: bool, close: bool, ready: bool) -> None:
        self.data = data
        self.more = more
        self.chunked = chunked
        self.close = close
        self.ready = ready


class HttpServer(asyncio.Protocol):
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.transport: asyncio.Transport | None = None
        self.queue: deque[_Pending] = deque()
        self.paused = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no asyncio.Transport

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "upgrade not supported")
        except httptools.HttpParserError as e:
            self._fail(400, f"bad request: {e}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.queue.clear()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._pump()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_message_complete(self) -> None:
        if self.closed:
            return
        try:
            r = self.catalog.get(self.url)
        except BadQuery as e:
            self._fail(400, str(e))
            return
        close = r.close or not self.parser.should_keep_alive()
        head = self.parser.get_method() == b"HEAD"
        if head:
            data, more = (r.shut_head if close else r.keep_head), 0
        else:
            data, more = (r.shut if close else r.keep), r.more
        if not self.queue and not r.delay and not more and not self.paused:
            assert self.transport is not None
            self.transport.write(data)  # the common case: one write, nothing kept
            if close:
                self._close()
            return
        p = _Pending(data, more, r.chunked, close, not r.delay)
        self.queue.append(p)
        if r.delay:
            asyncio.get_running_loop().call_later(r.delay, self._ready, p)
        else:
            self._pump()

    def _ready(self, p: _Pending) -> None:
        p.ready = True
        self._pump()

    def _pump(self) -> None:
        q = self.queue
        t = self.transport
        while q and q[0].ready and not self.paused and not self.closed:
            p = q[0]
            assert t is not None
            if p.data:
                t.write(p.data)
                p.data = b""
            while p.more and not self.paused:
                n = min(p.more, SLICE)
                if p.chunked:
                    t.writelines((b"%x\r\n" % n, BODY[:n], b"\r\n"))
                else:
                    t.write(BODY[:n])
                p.more -= n
                if not p.more and p.chunked:
                    t.write(b"0\r\n\r\n")
            if p.more:
                return  # resume_writing picks it up
            q.popleft()
            if p.close:
                self._close()
                return

    def _fail(self, status: int, message: str) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(error_response(status, message))
        self._close()

    def _close(self) -> None:
        self.closed = True
        self.queue.clear()
        if self.transport is not None:
            self.transport.close()


# ------------------------------------------------------------------------------------- TCP


class TcpServer:
    """Sink and source streams on raw non-blocking sockets, driven by the loop's readiness."""

    def __init__(self, loop: asyncio.AbstractEventLoop, listener: socket.socket) -> None:
        self.loop = loop
        self.listener = listener
        listener.setblocking(False)
        self.source = -1
        self.null = os.open(os.devnull, os.O_WRONLY)
        self.conns: dict[int, socket.socket] = {}
        loop.add_reader(listener.fileno(), self._accept)

    def close(self) -> None:
        self.loop.remove_reader(self.listener.fileno())
        for fd in list(self.conns):
            self._drop(fd)
        os.close(self.null)
        if self.source >= 0:
            os.close(self.source)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # EMFILE and friends: the backlog keeps them until fds free up
            conn.setblocking(False)
            fd = conn.fileno()
            self.conns[fd] = conn
            self.loop.add_reader(fd, self._header, fd, bytearray())

    def _drop(self, fd: int, pipe: tuple[int, int] | None = None) -> None:
        self.loop.remove_reader(fd)
        self.loop.remove_writer(fd)
        conn = self.conns.pop(fd, None)
        if conn is not None:
            conn.close()
        if pipe is not None:
            for p in pipe:
                os.close(p)

    def _header(self, fd: int, got: bytearray) -> None:
        conn = self.conns[fd]
        try:
            b = conn.recv(9 - len(got))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(fd)
            return
        if not b:
            self._drop(fd)
            return
        got += b
        if got[:1] == b"U":
            self.loop.remove_reader(fd)
            self._start_sink(fd, len(got) - 1)
        elif got[:1] == b"D":
            if len(got) < 9:
                return
            self.loop.remove_reader(fd)
            (want,) = COUNT.unpack(got[1:9])
            self._start_source(fd, want)
        else:
            self._drop(fd)

    # sink: socket → pipe → /dev/null
    def _start_sink(self, fd: int, already: int) -> None:
        try:
            r, w = os.pipe()
        except OSError:
            self._drop(fd)
            return
        with contextlib.suppress(OSError):
            fcntl.fcntl(w, F_SETPIPE_SZ, PIPE_SIZE)
        state = [already]
        self.loop.add_reader(fd, self._sink, fd, (r, w), state)

    def _sink(self, fd: int, pipe: tuple[int, int], state: list[int]) -> None:
        r, w = pipe
        for _ in range(SPLICE_BURST):
            try:
                n = os.splice(fd, w, PIPE_SIZE, flags=os.SPLICE_F_NONBLOCK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop(fd, pipe)
                return
            if n == 0:
                self.loop.remove_reader(fd)
                conn = self.conns[fd]
                with contextlib.suppress(OSError):
                    conn.setblocking(True)
                    conn.sendall(COUNT.pack(state[0]))
                self._drop(fd, pipe)
                return
            state[0] += n
            while n:
                n -= os.splice(r, self.null, n)

    # source: memfd → socket
    def _start_source(self, fd: int, want: int) -> None:
        if self.source < 0:
            self.source = os.memfd_create("lb-bench-source")
            block = bytes(range(256)) * 4096
            for _ in range(SOURCE_SIZE // len(block)):
                os.write(self.source, block)
        state = [want or -1, 0]  # bytes left (-1: endless), offset in the memfd
        self.loop.add_writer(fd, self._send, fd, state)

    def _send(self, fd: int, state: list[int]) -> None:
        for _ in range(SPLICE_BURST):
            left, off = state
            n = SOURCE_SIZE - off if left < 0 else min(left, SOURCE_SIZE - off)
            try:
                sent = os.sendfile(fd, self.source, off, n)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop(fd)
                return
            state[1] = (off + sent) % SOURCE_SIZE
            if left > 0:
                state[0] = left - sent
                if state[0] == 0:
                    self.conns[fd].shutdown(socket.SHUT_WR)
                    self.loop.remove_writer(fd)
                    self.loop.add_reader(fd, self._wait_close, fd)
                    return

    def _wait_close(self, fd: int) -> None:
        try:
            b = self.conns[fd].recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            b = b""
        if not b:
            self._drop(fd)


# ------------------------------------------------------------------------------- processes


def listener(host: str, port: int, reuseport: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((host, port))
    s.listen(4096)
    return s


def serve_sockets(
    http: socket.socket | None, tcp: socket.socket | None, parent_pipe: int = -1
) -> None:
    """Serve on already-listening sockets until SIGTERM or SIGINT, or until parent_pipe (the
    read end of a pipe whose write end only the parent holds) reaches EOF: a worker never
    outlives the ``serve`` that started it."""
    import uvloop

    from lb.bench.worker import raise_fd_limit

    raise_fd_limit(65536)
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    if parent_pipe >= 0:
        loop.add_reader(parent_pipe, lambda: stop.done() or stop.set_result(None))

    async def main() -> None:
        catalog = Catalog()
        server = None
        tcp_server = None
        if http is not None:
            server = await loop.create_server(lambda: HttpServer(catalog), sock=http, backlog=4096)
        if tcp is not None:
            tcp_server = TcpServer(loop, tcp)
        await stop
        if server is not None:
            server.close()
        if tcp_server is not None:
            tcp_server.close()

    loop.run_until_complete(main())
    loop.close()


def _address(s: socket.socket | None) -> str:
    if s is None:
        return "-"
    host, port = s.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def run(host: str, http_port: int | None, tcp_port: int | None, workers: int) -> int:
    """``lb-bench serve``: open the ports, print where, serve (in ``workers`` processes)."""
    if http_port is None and tcp_port is None:
        http_port = tcp_port = 0
    socks: list[tuple[socket.socket | None, socket.socket | None]] = []
    first_http = listener(host, http_port, workers > 1) if http_port is not None else None
    first_tcp = listener(host, tcp_port, workers > 1) if tcp_port is not None else None
    socks.append((first_http, first_tcp))
    for _ in range(workers - 1):  # the same ports, one socket per worker (the kernel balances)
        h = listener(host, first_http.getsockname()[1], True) if first_http else None
        t = listener(host, first_tcp.getsockname()[1], True) if first_tcp else None
        socks.append((h, t))
    where = f"http={_address(first_http)} tcp={_address(first_tcp)}"
    line = f"lb-bench serve: {where} workers={workers}"
    if workers == 1:
        print(line, flush=True)
        serve_sockets(first_http, first_tcp)
        return 0
    children = []
    alive_r, alive_w = os.pipe()  # the write end stays here: its EOF tells the workers to go
    for h, t in socks:
        fds = [s.fileno() for s in (h, t) if s is not None]
        cmd = [
            sys.executable,
            "-m",
            "lb.bench.serve",
            str(h.fileno() if h else -1),
            str(t.fileno() if t else -1),
            str(alive_r),
        ]
        children.append(subprocess.Popen(cmd, pass_fds=[*fds, alive_r]))
    os.close(alive_r)
    print(line, flush=True)  # the sockets listen: connections queue until the workers take them
    for h, t in socks:
        for s in (h, t):
            if s is not None:
                s.close()

    def forward(sig: int, _frame: object) -> None:
        for c in children:
            if c.poll() is None:
                c.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = 0
    for c in children:
        while True:
            try:
                rc = c.wait()
                break
            except InterruptedError:
                continue
        if rc not in (0, -signal.SIGTERM):
            code = 1
        forward(signal.SIGTERM, None)  # one worker gone: the others follow
    os.close(alive_w)
    return code


def _child(http_fd: int, tcp_fd: int, parent_pipe: int) -> int:
    h = socket.socket(fileno=http_fd) if http_fd >= 0 else None
    t = socket.socket(fileno=tcp_fd) if tcp_fd >= 0 else None
    serve_sockets(h, t, parent_pipe)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lb.bench.serve")
    ap.add_argument("http_fd", type=int)
    ap.add_argument("tcp_fd", type=int)
    ap.add_argument("parent_pipe", type=int)
    a = ap.parse_args(argv)
    try:
        return _child(a.http_fd, a.tcp_fd, a.parent_pipe)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
