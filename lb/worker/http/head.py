"""Request and response heads: validation (RFC 9112 smuggling rules) and rewriting.

Pure functions over header lists; the protocols collect headers from httptools and
call these once per message.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

# Hop-by-hop headers (RFC 9110 §7.6.1) that a proxy never forwards as they are.
HOP_BY_HOP = frozenset(
    (
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"proxy-connection",
        b"upgrade",
        b"transfer-encoding",
        b"content-length",
    )
)
# transfer-encoding and content-length are not hop-by-hop in the RFC's sense, but lb
# writes the framing itself (it re-frames chunked bodies), so it drops the originals.

# Header names analyse looks at, by what it does with them. Other names are end-to-end
# and only copied. The usual spellings are looked up as they come; others are lowered
# first, and only when their length is one of these names' (most headers skip that).
_LENGTH, _CODINGS, _CONNECTION, _UPGRADE, _EXPECT, _HOST, _HOP = range(1, 8)
_KIND_LOWER: dict[bytes, int] = {
    b"content-length": _LENGTH,
    b"transfer-encoding": _CODINGS,
    b"connection": _CONNECTION,
    b"upgrade": _UPGRADE,
    b"expect": _EXPECT,
    b"host": _HOST,
    b"keep-alive": _HOP,
    b"te": _HOP,
    b"trailer": _HOP,
    b"proxy-connection": _HOP,
}
_KIND: dict[bytes, int] = {
    **_KIND_LOWER,
    **{b"-".join(w.capitalize() for w in n.split(b"-")): k for n, k in _KIND_LOWER.items()},
    b"TE": _HOP,
}
_KIND_LENGTHS = frozenset(len(n) for n in _KIND_LOWER)
assert set(_KIND_LOWER) == HOP_BY_HOP | {b"expect", b"host"}
# Connection tokens that name no end-to-end header: no second pass needed for them.
_USUAL_TOKENS = frozenset((b"close", b"keep-alive", b"upgrade")) | HOP_BY_HOP
_NO_TOKENS: frozenset[bytes] = frozenset()
# Connection values seen on nearly every message, and the one token each holds.
_USUAL_CONNECTION = {
    spelling: spelling.lower()
    for spelling in (b"close", b"Close", b"keep-alive", b"Keep-Alive", b"upgrade", b"Upgrade")
}
_IDEMPOTENT = frozenset((b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"))


class BadMessage(Exception):
    """The message must be refused (400 for requests, 502 for responses)."""


class Framing:
    """How a message's body is delimited."""

    NONE = 0  # no body
    LENGTH = 1  # Content-Length
    CHUNKED = 2  # Transfer-Encoding: chunked
    CLOSE = 3  # until the connection closes (responses only)


class Head:
    """A parsed request or response head, with what lb needs to know about it."""

    __slots__ = (
        "connection_tokens",
        "content_length",
        "expect_continue",
        "framing",
        "headers",
        "host",
        "keep_alive",
        "kept",
        "length_given",
        "method",
        "reason",
        "status",
        "upgrade",
        "url",
        "version",
    )

    def __init__(self) -> None:
        self.method = b""
        self.url = b""
        self.version = "1.1"
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        # the end-to-end headers (headers without the hop-by-hop ones), set by analyse
        self.kept: list[tuple[bytes, bytes]] = []
        self.framing = Framing.NONE
        self.content_length = 0
        self.length_given = False  # a Content-Length header was there (0 included)
        self.connection_tokens: frozenset[bytes] = _NO_TOKENS
        self.keep_alive = True
        self.upgrade = b""
        self.expect_continue = False
        self.host = b""

    @property
    def idempotent(self) -> bool:
        return self.method in _IDEMPOTENT

    def header(self, name: bytes) -> bytes | None:
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None


def analyse(head: Head, *, is_request: bool) -> None:
    """Fill framing, keep-alive and friends from the headers; refuse what RFC 9112 forbids.

    Characters are not checked here: llhttp (httptools) runs strict and already refuses
    invalid header names, control characters and NUL in values, obs-fold, bare CR or LF
    and whitespace before the colon (tests/http/test_http_smuggling.py holds it to that).
    """
    kept: list[tuple[bytes, bytes]] = []
    keep = kept.append
    lengths: list[bytes] = []
    codings: list[bytes] = []
    tokens: set[bytes] | None = None
    hosts = 0
    kinds = _KIND
    for item in head.headers:
        name = item[0]
        kind = kinds.get(name)
        if kind is None:
            if len(name) not in _KIND_LENGTHS:
                keep(item)
                continue
            kind = _KIND_LOWER.get(name.lower())
            if kind is None:
                keep(item)
                continue
        value = item[1]
        if kind == _HOST:
            hosts += 1
            head.host = value
            keep(item)
        elif kind == _LENGTH:
            if value.isdigit():
                lengths.append(value)
            else:  # a list ("5, 5"), spaces, or something invalid: split and judge below
                lengths.extend(v.strip() for v in value.split(b","))
        elif kind == _CODINGS:
            codings.extend(c.strip().lower() for c in value.split(b",") if c.strip())
        elif kind == _CONNECTION:
            if tokens is None:
                tokens = set()
            usual = _USUAL_CONNECTION.get(value)
            if usual is not None:
                tokens.add(usual)
            else:
                tokens.update(t.strip().lower() for t in value.split(b",") if t.strip())
        elif kind == _UPGRADE:
            head.upgrade = value
        elif kind == _EXPECT:
            if value.strip().lower() == b"100-continue":
                head.expect_continue = True
            keep(item)
    if tokens is not None:
        head.connection_tokens = frozenset(tokens)
        if not tokens <= _USUAL_TOKENS:  # Connection names end-to-end headers: drop them too
            kept = [kv for kv in kept if kv[0].lower() not in tokens]
    head.kept = kept
    if is_request and head.version == "1.1" and hosts != 1:
        raise BadMessage("HTTP/1.1 request without exactly one Host header")
    if codings:
        if lengths:
            raise BadMessage("both Content-Length and Transfer-Encoding")
        if head.version == "1.0":
            raise BadMessage("Transfer-Encoding in an HTTP/1.0 message")
        if codings[-1] != b"chunked" or codings.count(b"chunked") != 1:
            if is_request:
                raise BadMessage("Transfer-Encoding whose final coding is not chunked")
            head.framing = Framing.CLOSE  # RFC 9112 §6.3: read until close
        else:
            head.framing = Framing.CHUNKED
    elif lengths:
        first = lengths[0]
        if not first.isdigit() or (len(lengths) > 1 and len(set(lengths)) != 1):
            raise BadMessage("invalid or conflicting Content-Length")
        if len(first) > 18:
            raise BadMessage("Content-Length too large")
        head.content_length = int(first)
        head.length_given = True
        head.framing = Framing.LENGTH if head.content_length else Framing.NONE
    elif not is_request:
        head.framing = Framing.CLOSE
    if head.version == "1.0":
        head.keep_alive = b"keep-alive" in head.connection_tokens
    else:
        head.keep_alive = b"close" not in head.connection_tokens


def response_has_body(status: int, request_method: bytes) -> bool:
    return not (request_method == b"HEAD" or status in (204, 304) or 100 <= status < 200)


def end_to_end(
    headers: list[tuple[bytes, bytes]], connection_tokens: frozenset[bytes]
) -> list[tuple[bytes, bytes]]:
    """``headers`` without the hop-by-hop ones (after rules rewrote a head: a rule may
    add any header, framing ones included, and lb writes those itself)."""
    drop = HOP_BY_HOP | connection_tokens
    return [kv for kv in headers if kv[0].lower() not in drop]


def forwarded_headers(
    head: Head, *, extra: Sequence[tuple[bytes, bytes]] = ()
) -> list[tuple[bytes, bytes]]:
    """The end-to-end headers (analyse's ``kept``), plus ``extra`` when given."""
    return head.kept + list(extra) if extra else head.kept


def render_request(
    method: bytes, url: bytes, headers: Sequence[tuple[bytes, bytes]], tail: bytes
) -> bytes:
    """``tail`` carries the framing and Connection lines lb adds, ending with a blank line."""
    parts = [method, b" ", url, b" HTTP/1.1\r\n"]
    add = parts.extend
    for name, value in headers:
        add((name, b": ", value, b"\r\n"))
    parts.append(tail)
    return b"".join(parts)


def render_response(
    status: int, reason: bytes, headers: Sequence[tuple[bytes, bytes]], tail: bytes
) -> bytes:
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
    add = parts.extend
    for name, value in headers:
        add((name, b": ", value, b"\r\n"))
    parts.append(tail)
    return b"".join(parts)


class ForwardFor:
    """``option forwardfor``, compiled: which clients get the header, and which header."""

    __slots__ = ("header", "if_none", "lower_name", "network")

    def __init__(self, header: str, except_net: str | None, if_none: bool) -> None:
        self.header = header.encode()
        self.lower_name = self.header.lower()
        self.network = ipaddress.ip_network(except_net, strict=False) if except_net else None
        self.if_none = if_none  # then a request that has the header keeps it as it is

    def value_for(self, client_ip: str) -> tuple[bytes, bytes] | tuple[()]:
        """The header line for this client, or ``()`` when ``except`` spares it."""
        if self.network is not None:
            try:
                if ipaddress.ip_address(client_ip) in self.network:
                    return ()
            except ValueError:
                pass
        return self.header, client_ip.encode()
