"""What ``lb-bench serve`` answers to a request line: the query chooses, a cache keeps the bytes.

``/?s=20k&r=404&t=5ms&c=1&k=0`` — body size ``s`` (decimal units: ``20k`` = 20 000 bytes;
default 0), status ``r`` (default 200), delay ``t`` before the response leaves (a bare number
is milliseconds; default none), ``c=1`` chunked body (16 kB chunks), ``k=0`` the server
closes after answering. Other parameters and the path are ignored, so ``/static/a.css?s=2k``
works for routing tests. Responses up to 1 MB are built once into a single ``bytes`` (head
and body), cached by request target; bigger bodies are written in slices of one shared
buffer.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qsl

from lb.bench.units import parse_duration, parse_size

INLINE_MAX = 1 << 20  # bodies up to this size are cached inline with their head
CHUNK = 16 * 1024  # chunk size of c=1 bodies
SLICE = 1 << 20  # what a big body is written in, from BODY
BODY = b"x" * SLICE
CACHE_MAX = 4096  # distinct request targets remembered


class BadQuery(ValueError):
    pass


@dataclass(frozen=True)
class Plan:
    """A response as the query asked for it."""

    size: int = 0
    status: int = 200
    delay: float = 0.0
    chunked: bool = False
    close: bool = False


def parse_target(target: bytes) -> Plan:
    """The Plan for a request target such as ``b"/x?s=20k&r=404"``. BadQuery on bad values."""
    _, _, query = target.partition(b"?")
    size, status, delay, chunked, close = 0, 200, 0.0, False, False
    for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        try:
            if key == "s":
                size = parse_size(value)
            elif key == "r":
                status = int(value)
                if not 100 <= status <= 999 or 100 <= status < 200:
                    raise ValueError(f"status {value} is not a final status")
            elif key == "t":
                delay = parse_duration(value, "ms")
            elif key == "c":
                chunked = value not in ("0", "")
            elif key == "k":
                close = value == "0"
        except ValueError as e:
            raise BadQuery(f"{key}={value}: {e}") from None
    return Plan(size, status, delay, chunked, close)


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


def _chunked(size: int) -> bytes:
    out = []
    left = size
    while left:
        n = min(CHUNK, left)
        out.append(b"%x\r\n" % n + BODY[:n] + b"\r\n")
        left -= n
    out.append(b"0\r\n\r\n")
    return b"".join(out)


def _no_body(status: int) -> bool:
    return status in (204, 304)


class Response:
    """The bytes of one Plan, for keep-alive and for close, with and without the body."""

    __slots__ = ("chunked", "close", "delay", "keep", "keep_head", "more", "shut", "shut_head")

    def __init__(self, plan: Plan) -> None:
        self.delay = plan.delay
        self.close = plan.close
        self.chunked = plan.chunked
        size = 0 if _no_body(plan.status) else plan.size
        inline = size <= INLINE_MAX
        self.more = 0 if inline else size  # body bytes written after the head, from BODY
        lines = [f"HTTP/1.1 {plan.status} {reason(plan.status)}", "Server: lb-bench"]
        if not _no_body(plan.status):
            if plan.chunked:
                lines.append("Transfer-Encoding: chunked")
            else:
                lines.append(f"Content-Length: {size}")
        base = "\r\n".join(lines) + "\r\n"
        keep_head = (base + "\r\n").encode()
        shut_head = (base + "Connection: close\r\n\r\n").encode()
        body = b""
        if inline and size:
            body = _chunked(size) if plan.chunked else BODY[:size]
        elif plan.chunked and not _no_body(plan.status) and not size:
            body = b"0\r\n\r\n"
        self.keep_head = keep_head
        self.shut_head = shut_head
        self.keep = keep_head + body
        self.shut = shut_head + body


class Catalog:
    """Request target → Response, built on first use and remembered (up to CACHE_MAX)."""

    def __init__(self) -> None:
        self.cache: dict[bytes, Response] = {}

    def get(self, target: bytes) -> Response:
        r = self.cache.get(target)
        if r is None:
            r = Response(parse_target(target))
            if len(self.cache) < CACHE_MAX:
                self.cache[target] = r
        return r


def error_response(status: int, message: str) -> bytes:
    body = (message + "\n").encode()
    return (
        f"HTTP/1.1 {status} {reason(status)}\r\nServer: lb-bench\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
