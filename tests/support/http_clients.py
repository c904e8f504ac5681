"""Raw-socket HTTP/1.1 clients for the HTTP tests: exact bytes out, whole responses in.

- ``HttpConn``: one connection; ``send(raw)`` sends exact bytes, ``read_response(method)``
  reads one full response (interim 1xx responses collected in ``interim``; the body framed by
  Content-Length, chunked coding with trailers, or the close), so pipelined responses read
  one after the other off one buffer. ``request(...)`` builds and sends a request.
- ``http_request(port, raw)``: one exchange on a new connection.
- ``outcome(port, raw)``: what a proxy did with some bytes: a status, a close, or silence.
- ``Slowloris``: many connections that each send one header byte every interval, in one
  thread; records when and how each connection ended.
"""

from __future__ import annotations

import hashlib
import selectors
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from tests.support.clients import LOCAL
from tests.support.servers import pattern_chunks


class IncompleteResponse(Exception):
    """The connection closed (or timed out) before a complete response was read."""

    def __init__(self, msg: str, partial: bytes = b"") -> None:
        super().__init__(msg)
        self.partial = partial


@dataclass
class Response:
    version: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    body_len: int = 0
    body_sha256: str = ""
    trailers: list[tuple[str, str]] = field(default_factory=list)
    chunked: bool = False
    interim: list[Response] = field(default_factory=list)
    raw_head: bytes = b""

    def header(self, name: str, default: str | None = None) -> str | None:
        vals = self.headers_all(name)
        return ", ".join(vals) if vals else default

    def headers_all(self, name: str) -> list[str]:
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def has(self, name: str) -> bool:
        return bool(self.headers_all(name))

    def connection_tokens(self) -> set[str]:
        return {t.strip().lower() for v in self.headers_all("connection") for t in v.split(",")}


class HttpConn:
    """One client connection with a receive buffer shared by successive responses."""

    def __init__(self, port: int, timeout: float = 10.0, host: str = LOCAL) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    def __enter__(self) -> HttpConn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def settimeout(self, t: float | None) -> None:
        self.sock.settimeout(t)

    # ------------------------------------------------------------------ sending

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(
        self,
        method: str = "GET",
        target: str = "/",
        headers: Iterable[tuple[str, str]] = (),
        body: bytes | None = None,
        host: str = "test",
        version: str = "HTTP/1.1",
    ) -> None:
        self.send(build_request(method, target, headers, body, host, version))

    # ------------------------------------------------------------------ receiving

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            data = self.sock.recv(256 * 1024)
        except TimeoutError:
            raise IncompleteResponse("timed out", bytes(self.buf)) from None
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _line(self) -> bytes:
        while (i := self.buf.find(b"\n")) < 0:
            if not self._fill():
                raise IncompleteResponse("closed inside a line", bytes(self.buf))
        line = bytes(self.buf[: i + 1])
        del self.buf[: i + 1]
        return line

    def _exact(self, n: int, h: hashlib._Hash, keep: bytearray | None) -> None:
        while n > 0:
            if not self.buf and not self._fill():
                raise IncompleteResponse(f"closed with {n} body bytes missing")
            take = min(n, len(self.buf))
            part = self.buf[:take]
            h.update(part)
            if keep is not None:
                keep += part
            del self.buf[:take]
            n -= take

    def wait_closed(self, timeout: float = 5.0) -> bool:
        """True if the peer closes (EOF or reset) within timeout (data read meanwhile is kept)."""
        old = self.sock.gettimeout()
        deadline = time.monotonic() + timeout
        try:
            while not self.eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.sock.settimeout(left)
                try:
                    self._fill()
                except IncompleteResponse:
                    return False
                except (ConnectionResetError, BrokenPipeError):
                    self.eof = True
        finally:
            self.sock.settimeout(old)
        return True

    def read_head(self) -> Response:
        start = len(self.buf)
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                end = i + 4
                break
            if not self._fill():
                raise IncompleteResponse("closed before a complete response head", bytes(self.buf))
        del start
        head = bytes(self.buf[:end])
        del self.buf[:end]
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise IncompleteResponse(f"not a status line: {lines[0][:200]!r}", head)
        hdrs = []
        for ln in lines[1:]:
            k, _, v = ln.decode("latin-1").partition(":")
            hdrs.append((k, v.strip()))
        return Response(
            version=parts[0],
            status=int(parts[1]),
            reason=parts[2] if len(parts) > 2 else "",
            headers=hdrs,
            raw_head=head,
        )

    def read_response(
        self, method: str = "GET", keep_body: bool = True, limit: int = 1 << 30
    ) -> Response:
        """One final response (interim 1xx collected), its body read as its framing says."""
        interim = []
        while True:
            r = self.read_head()
            if 100 <= r.status < 200 and r.status != 101:
                interim.append(r)
                continue
            break
        r.interim = interim
        h = hashlib.sha256()
        keep = bytearray() if keep_body else None
        te = (r.header("transfer-encoding") or "").lower()
        cl = r.header("content-length")
        if method == "HEAD" or r.status in (101, 204, 304):
            pass
        elif "chunked" in te:
            r.chunked = True
            total = 0
            while True:
                line = self._line()
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    break
                self._exact(size, h, keep)
                total += size
                if self._line().strip():
                    raise IncompleteResponse("chunk data not followed by CRLF")
            while True:
                line = self._line()
                if not line.strip():
                    break
                k, _, v = line.decode("latin-1").partition(":")
                r.trailers.append((k, v.strip()))
            r.body_len = total
        elif cl is not None:
            n = int(cl)
            self._exact(n, h, keep)
            r.body_len = n
        else:  # close-delimited
            total = 0
            while True:
                if self.buf:
                    part = bytes(self.buf)
                    self.buf.clear()
                    h.update(part)
                    total += len(part)
                    if keep is not None:
                        keep += part
                    if total > limit:
                        raise IncompleteResponse("close-delimited body over the limit")
                if not self._fill():
                    break
            r.body_len = total
        r.body = bytes(keep) if keep is not None else b""
        r.body_sha256 = h.hexdigest()
        return r


def build_request(
    method: str = "GET",
    target: str = "/",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes | None = None,
    host: str = "test",
    version: str = "HTTP/1.1",
) -> bytes:
    hdrs = list(headers)
    names = {k.lower() for k, _ in hdrs}
    lines = [f"{method} {target} {version}"]
    if host and "host" not in names:
        lines.append(f"Host: {host}")
    lines += [f"{k}: {v}" for k, v in hdrs]
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def http_request(
    port: int, raw: bytes, method: str = "GET", timeout: float = 10.0, keep_body: bool = True
) -> Response:
    """Send raw bytes on a new connection and read one response."""
    with HttpConn(port, timeout) as c:
        c.send(raw)
        return c.read_response(method, keep_body=keep_body)


def get(
    port: int, target: str = "/", headers: Iterable[tuple[str, str]] = (), **kw: object
) -> Response:
    return http_request(port, build_request("GET", target, headers), **kw)  # type: ignore[arg-type]


def chunked_body(
    data: bytes, sizes: Iterable[int], trailers: Iterable[tuple[str, str]] = ()
) -> bytes:
    """data in chunks of the given sizes (the last repeated), then the last chunk and trailers."""
    out = bytearray()
    off = 0
    sizes = list(sizes) or [len(data) or 1]
    i = 0
    while off < len(data):
        n = sizes[min(i, len(sizes) - 1)]
        part = data[off : off + n]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
        off += n
        i += 1
    out += b"0\r\n"
    for k, v in trailers:
        out += f"{k}: {v}\r\n".encode("latin-1")
    out += b"\r\n"
    return bytes(out)


def send_pattern(conn: HttpConn, seed: int, size: int) -> None:
    for chunk in pattern_chunks(seed, size, chunk=1 << 20):
        conn.sock.sendall(chunk)


@dataclass
class Outcome:
    """What a peer did with some request bytes."""

    status: int | None  # the status of the first final response, if one came
    closed: bool  # the connection was closed (after the response, if any)
    response: Response | None = None
    error: str = ""


def outcome(port: int, raw: bytes, timeout: float = 5.0) -> Outcome:
    """Send raw, read one response if any, then see whether the connection closes."""
    with HttpConn(port, timeout) as c:
        try:
            c.send(raw)
        except (BrokenPipeError, ConnectionResetError) as e:
            return Outcome(None, True, error=repr(e))
        try:
            r = c.read_response()
        except IncompleteResponse as e:
            return Outcome(None, c.eof, error=f"{e} {e.partial[:200]!r}")
        except (ConnectionResetError, BrokenPipeError) as e:
            return Outcome(None, True, error=repr(e))
        closed = c.wait_closed(1.0)
        return Outcome(r.status, closed, r)


# ---------------------------------------------------------------------- slowloris


@dataclass
class SlowConn:
    sock: socket.socket
    opened: float
    sent: int = 0
    closed_at: float | None = None
    received: bytes = b""
    error: str = ""


class Slowloris(threading.Thread):
    """n connections, each sending one byte of an endless request head every interval."""

    HEAD = b"GET /slow HTTP/1.1\r\nHost: test\r\nX-Slow: " + b"a" * 1_000_000

    def __init__(self, port: int, n: int, interval: float = 1.0, host: str = LOCAL) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.n = n
        self.interval = interval
        self.host = host
        self.conns: list[SlowConn] = []
        self.opened = threading.Event()
        self._stop_event = threading.Event()
        self.sel = selectors.DefaultSelector()
        self.connect_errors: list[str] = []

    def run(self) -> None:
        for _ in range(self.n):
            try:
                s = socket.create_connection((self.host, self.port), timeout=5)
            except OSError as e:
                self.connect_errors.append(repr(e))
                continue
            s.setblocking(False)
            c = SlowConn(s, time.monotonic())
            self.conns.append(c)
            self.sel.register(s, selectors.EVENT_READ, c)
        self.opened.set()
        next_tick = time.monotonic()
        while not self._stop_event.is_set():
            now = time.monotonic()
            if now >= next_tick:
                for c in self.conns:
                    if c.closed_at is None:
                        try:
                            c.sock.send(self.HEAD[c.sent : c.sent + 1])
                            c.sent += 1
                        except BlockingIOError:
                            pass
                        except OSError as e:
                            self._ended(c, repr(e))
                next_tick = now + self.interval
            for key, _ in self.sel.select(timeout=max(0.0, min(0.1, next_tick - now))):
                c = key.data
                try:
                    data = c.sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    self._ended(c, repr(e))
                    continue
                if data:
                    c.received += data
                else:
                    self._ended(c, "")
        for c in self.conns:
            if c.closed_at is None:
                self.sel.unregister(c.sock)
            c.sock.close()
        self.sel.close()

    def _ended(self, c: SlowConn, error: str) -> None:
        c.closed_at = time.monotonic()
        c.error = error
        self.sel.unregister(c.sock)

    def open_count(self) -> int:
        return sum(1 for c in self.conns if c.closed_at is None)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)
