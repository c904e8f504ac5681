"""Layer-4 content fetches: what ``tcp-request content`` rules (and mode tcp
``use_backend``) read from the client's first bytes, which lb peeks without consuming.

The bytes live on a ``ContentTxn`` (an HttpTxn with the buffer). While more bytes may
still come (``final`` is False), a fetch that needs more than arrived sets ``need_more``
and gives no sample: the rule then waits for more data or for ``inspect-delay`` (as
HAProxy's "may change" samples). Once final, such a fetch simply gives no sample.

The ClientHello parser is a pure function that never raises: a client sends what it
likes. Registered in lb.acl.fetches.FETCHES as (out type, scope, argument kinds,
required arguments, builder) rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from lb.acl.context import Ctx
from lb.acl.errors import NotYet, RuleError
from lb.acl.runtime import Runtime
from lb.acl.txn import HttpTxn
from lb.acl.values import Value

One = Callable[[HttpTxn, Runtime], Value | None]
Many = Callable[[HttpTxn, Runtime], Iterable[Value]]
Built = tuple[One, Many | None]
Builder = Callable[[list[Any], Ctx], Built]

NEED_MORE = -1  # a parse result: the bytes so far are a valid beginning, but too short

_HANDSHAKE = 0x16
_CLIENT_HELLO = 1
_EXT_SERVER_NAME = 0
_EXT_ALPN = 16


class ContentTxn(HttpTxn):
    """A mode tcp connection's rules' view: addresses and the peeked first bytes."""

    __slots__ = ("final", "need_more", "payload")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.payload = b""
        self.final = True  # no more bytes will come (delay over, buffer full, client done)
        self.need_more = False  # a fetch wanted more bytes than there were


def _buffer(t: HttpTxn) -> bytes | None:
    """The peeked bytes; None outside layer-4 inspection (an HTTP request's rules)."""
    try:
        return t.payload  # type: ignore[attr-defined,no-any-return]
    except AttributeError:
        return None


def _short(t: HttpTxn) -> None:
    """A fetch needs more bytes than arrived: the rule waits unless nothing more comes."""
    if not t.final:  # type: ignore[attr-defined]
        t.need_more = True  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- pure parsing


class Hello:
    """What a TLS ClientHello says (only what the fetches need)."""

    __slots__ = ("alpn", "sni", "version")

    def __init__(self, version: int, sni: bytes | None, alpn: list[bytes]) -> None:
        self.version = version  # client_version: major << 16 | minor
        self.sni = sni
        self.alpn = alpn


def hello_type(data: bytes) -> int | None:
    """The handshake type of the first TLS record's first message; NEED_MORE when too
    short to tell; None when the bytes are not a TLS handshake record."""
    if len(data) < 6:
        return NEED_MORE if _may_be_handshake(data) else None
    if data[0] != _HANDSHAKE or data[1] != 3:
        return None
    return data[5]


def _may_be_handshake(data: bytes) -> bool:
    return (not data or data[0] == _HANDSHAKE) and (len(data) < 2 or data[1] == 3)


def parse_client_hello(data: bytes) -> Hello | int | None:
    """The ClientHello that ``data`` starts with (in one TLS record, as HAProxy reads
    it); NEED_MORE when the bytes are a valid beginning; None when they are not a
    ClientHello. Never raises."""
    t = hello_type(data)
    if t is None or t == NEED_MORE:
        return t
    if t != _CLIENT_HELLO:
        return None
    record_len = int.from_bytes(data[3:5], "big")
    if len(data) < 9:
        return NEED_MORE
    hs_len = int.from_bytes(data[6:9], "big")
    if hs_len + 4 > record_len:  # a ClientHello split over records: not read (as HAProxy)
        return None
    end = 9 + hs_len
    if len(data) < end:
        return NEED_MORE
    try:
        return _hello_body(memoryview(data)[9:end])
    except (IndexError, ValueError):
        return None


def _hello_body(b: memoryview) -> Hello | None:
    if len(b) < 35:
        return None
    version = b[0] << 16 | b[1]
    pos = 34  # client_version (2), random (32)
    pos += 1 + b[pos]  # session id
    pos += 2 + int.from_bytes(b[pos : pos + 2], "big")  # cipher suites
    pos += 1 + b[pos]  # compression methods
    if pos == len(b):
        return Hello(version, None, [])  # no extensions
    ext_end = pos + 2 + int.from_bytes(b[pos : pos + 2], "big")
    if ext_end > len(b):
        return None
    pos += 2
    sni: bytes | None = None
    alpn: list[bytes] = []
    while pos + 4 <= ext_end:
        kind = int.from_bytes(b[pos : pos + 2], "big")
        size = int.from_bytes(b[pos + 2 : pos + 4], "big")
        body = b[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if pos > ext_end:
            return None
        if kind == _EXT_SERVER_NAME:
            sni = _server_name(body)
        elif kind == _EXT_ALPN:
            alpn = _protocols(body)
    return Hello(version, sni, alpn)


def _server_name(body: memoryview) -> bytes | None:
    """The host_name entry of a server_name extension."""
    end = min(len(body), 2 + int.from_bytes(body[0:2], "big"))
    pos = 2
    while pos + 3 <= end:
        kind, size = body[pos], int.from_bytes(body[pos + 1 : pos + 3], "big")
        name = bytes(body[pos + 3 : pos + 3 + size])
        if kind == 0 and len(name) == size and size:
            return name
        pos += 3 + size
    return None


def _protocols(body: memoryview) -> list[bytes]:
    end = min(len(body), 2 + int.from_bytes(body[0:2], "big"))
    out: list[bytes] = []
    pos = 2
    while pos < end:
        size = body[pos]
        name = bytes(body[pos + 1 : pos + 1 + size])
        if len(name) != size:
            break
        if name:
            out.append(name)
        pos += 1 + size
    return out


_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_LINE = re.compile(_TOKEN + rb" [^ \r\n]+ HTTP/[0-9]\.[0-9]\r?\n")


def _prefixes(*parts: bytes) -> bytes:
    """A pattern matching any beginning of the parts in sequence."""
    out = b""
    for part in reversed(parts):
        out = b"(?:" + part + out + b")?"
    return out


# any beginning of a request line: the bytes may still become one
_PREFIX = re.compile(
    _TOKEN + _prefixes(rb" ", rb"[^ \r\n]+", rb" ", b"H", b"T", b"T", b"P", b"/", b"[0-9]",
                       rb"\.", b"[0-9]", b"\r")
)  # fmt: skip


def proto_http(data: bytes) -> bool | int:
    """The bytes start with an HTTP/1 request line; NEED_MORE while they may still."""
    if _REQUEST_LINE.match(data):
        return True
    m = _PREFIX.match(data)
    return NEED_MORE if not data or (m is not None and m.end() == len(data)) else False


# --------------------------------------------------------------------------- fetches


def _layer4_only(name: str, ctx: Ctx) -> None:
    """In mode http the request's bytes are not kept as a raw buffer: such a fetch would
    never match, so the configuration says so instead of running a rule that does nothing."""
    proxy = ctx.proxy if ctx is not None else None  # (tables build fetches without one)
    if proxy is not None and proxy.mode == "http":
        raise NotYet(name, "in a mode http proxy; it reads tcp-request content's buffer")


def _len(args: list[Any], ctx: Ctx) -> Built:
    _layer4_only("req.len", ctx)

    def one(t: HttpTxn, r: Runtime) -> Value | None:
        data = _buffer(t)
        if data is None:
            return None
        if not data:  # "does not return false as long as the buffer is changing"
            _short(t)
        return len(data)

    return one, None


def _payload(args: list[Any], ctx: Ctx) -> Built:
    _layer4_only("req.payload", ctx)
    offset, length = args[0], args[1]
    if offset < 0 or length < 0:
        raise RuleError("'req.payload': offset and length must not be negative")

    def one(t: HttpTxn, r: Runtime) -> Value | None:
        data = _buffer(t)
        if data is None:
            return None
        end = offset + length if length else len(data)
        if len(data) < end or len(data) <= offset:
            _short(t)
            return None
        return data[offset:end]

    return one, None


def _payload_lv(args: list[Any], ctx: Ctx) -> Built:
    _layer4_only("req.payload_lv", ctx)
    offset, size = args[0], args[1]
    start: int | None = args[2] if len(args) > 2 else None
    if offset < 0 or not 1 <= size <= 4:
        raise RuleError("'req.payload_lv': the length field is 1 to 4 bytes at offset >= 0")

    def one(t: HttpTxn, r: Runtime) -> Value | None:
        data = _buffer(t)
        if data is None:
            return None
        if len(data) < offset + size:
            _short(t)
            return None
        length = int.from_bytes(data[offset : offset + size], "big")
        begin = offset + size if start is None else start
        if len(data) < begin + length:
            _short(t)
            return None
        return data[begin : begin + length]

    return one, None


def _hello_type(args: list[Any], ctx: Ctx) -> Built:
    _layer4_only("req.ssl_hello_type", ctx)

    def one(t: HttpTxn, r: Runtime) -> Value | None:
        data = _buffer(t)
        if data is None:
            return None
        v = hello_type(data)
        if v == NEED_MORE:
            _short(t)
            return None
        return v

    return one, None


def _hello(t: HttpTxn) -> Hello | None:
    data = _buffer(t)
    if data is None:
        return None
    h = parse_client_hello(data)
    if h == NEED_MORE:
        _short(t)
        return None
    return h if isinstance(h, Hello) else None


def _sni(args: list[Any], ctx: Ctx) -> Built:
    _layer4_only("req.ssl_sni", ctx)

    def one(t: HttpTxn, r: Runtime) -> Value | None:
        h = _hello(t)
        return None if h is None else h.sni

    return one, None


def _ver(args: list[Any], ctx: Ctx) -> Built:
    _layer4_only("req.ssl_ver", ctx)

    def one(t: HttpTxn, r: Runtime) -> Value | None:
        h = _hello(t)
        return None if h is None else h.version

    return one, None


def _alpn(args: list[Any], ctx: Ctx) -> Built:
    _layer4_only("req.ssl_alpn", ctx)

    def many(t: HttpTxn, r: Runtime) -> list[Value]:
        h = _hello(t)
        return [] if h is None else list(h.alpn)

    def one(t: HttpTxn, r: Runtime) -> Value | None:
        h = _hello(t)
        return h.alpn[0] if h is not None and h.alpn else None

    return one, many


def _proto_http(args: list[Any], ctx: Ctx) -> Built:
    def one(t: HttpTxn, r: Runtime) -> Value | None:
        data = _buffer(t)
        if data is None:
            return True  # mode http: only HTTP requests reach the rules
        v = proto_http(data)
        if v == NEED_MORE:
            _short(t)
            return False
        return bool(v)

    return one, None


FETCH_ROWS: dict[str, tuple[str, str, tuple[str, ...], int, Builder]] = {
    "req.len": ("int", "req", (), 0, _len),
    "req_len": ("int", "req", (), 0, _len),
    "req.payload": ("bin", "req", ("int", "int"), 2, _payload),
    "req.payload_lv": ("bin", "req", ("int", "int", "int"), 2, _payload_lv),
    "req.ssl_hello_type": ("int", "req", (), 0, _hello_type),
    "req_ssl_hello_type": ("int", "req", (), 0, _hello_type),
    "req.ssl_sni": ("str", "req", (), 0, _sni),
    "req_ssl_sni": ("str", "req", (), 0, _sni),
    "req.ssl_ver": ("int", "req", (), 0, _ver),
    "req_ssl_ver": ("int", "req", (), 0, _ver),
    "req.ssl_alpn": ("str", "req", (), 0, _alpn),
    "req.proto_http": ("bool", "req", (), 0, _proto_http),
    "req_proto_http": ("bool", "req", (), 0, _proto_http),
}

# ACL keywords naming these fetches: name → (fetch, implicit matching method)
ACL_ROWS: dict[str, tuple[str, str]] = {
    "req_ssl_sni": ("req.ssl_sni", "str"),
    "payload": ("req.payload", "bin"),
    "payload_lv": ("req.payload_lv", "bin"),
}

PAYLOAD_FETCHES = frozenset(FETCH_ROWS)
