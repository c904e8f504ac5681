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

# RFC 9110 token characters, and the bytes a field value may hold (VCHAR, obs-text, SP, HTAB).
# Checked with bytes.translate(None, allowed): what is left over is not allowed (C speed).
_TOKEN = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FIELD_VALUE = bytes([9, *range(32, 127), *range(128, 256)])
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
        self.framing = Framing.NONE
        self.content_length = 0
        self.connection_tokens: set[bytes] = set()
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


def _is_token(value: bytes) -> bool:
    return bool(value) and not value.translate(None, _TOKEN)


def _check_value(name: bytes, value: bytes) -> None:
    if value.translate(None, _FIELD_VALUE):
        raise BadMessage(f"invalid character in header {name.decode(errors='replace')!r}")


def analyse(head: Head, *, is_request: bool) -> None:
    """Fill framing, keep-alive and friends from the headers; refuse what RFC 9112 forbids."""
    lengths: list[bytes] = []
    codings: list[bytes] = []
    hosts = 0
    for name, value in head.headers:
        if not _is_token(name):
            raise BadMessage(f"invalid header name {name!r}")
        _check_value(name, value)
        lname = name.lower()
        if lname == b"content-length":
            lengths.extend(v.strip() for v in value.split(b","))
        elif lname == b"transfer-encoding":
            codings.extend(c.strip().lower() for c in value.split(b",") if c.strip())
        elif lname == b"connection":
            head.connection_tokens.update(t.strip().lower() for t in value.split(b",") if t.strip())
        elif lname == b"upgrade":
            head.upgrade = value
        elif lname == b"expect" and value.strip().lower() == b"100-continue":
            head.expect_continue = True
        elif lname == b"host":
            hosts += 1
            head.host = value
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
        if any(not v.isdigit() for v in lengths) or len(set(lengths)) != 1:
            raise BadMessage("invalid or conflicting Content-Length")
        if len(lengths[0]) > 18:
            raise BadMessage("Content-Length too large")
        head.content_length = int(lengths[0])
        head.framing = Framing.LENGTH if head.content_length else Framing.NONE
    elif not is_request:
        head.framing = Framing.CLOSE
    if head.version == "1.0":
        head.keep_alive = b"keep-alive" in head.connection_tokens
    else:
        head.keep_alive = b"close" not in head.connection_tokens


def response_has_body(status: int, request_method: bytes) -> bool:
    return not (request_method == b"HEAD" or status in (204, 304) or 100 <= status < 200)


def forwarded_headers(
    head: Head, *, extra: Sequence[tuple[bytes, bytes]] = ()
) -> list[tuple[bytes, bytes]]:
    """The end-to-end headers, without hop-by-hop ones and those Connection names."""
    drop = HOP_BY_HOP | head.connection_tokens
    out = [(n, v) for n, v in head.headers if n.lower() not in drop]
    out.extend(extra)
    return out


def render_request(
    method: bytes, url: bytes, headers: Sequence[tuple[bytes, bytes]], tail: bytes
) -> bytes:
    """``tail`` carries the framing and Connection lines lb adds, ending with a blank line."""
    parts = [method, b" ", url, b" HTTP/1.1\r\n"]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(tail)
    return b"".join(parts)


def render_response(
    status: int, reason: bytes, headers: Sequence[tuple[bytes, bytes]], tail: bytes
) -> bytes:
    parts = [b"HTTP/1.1 %d " % status, reason, b"\r\n"]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(tail)
    return b"".join(parts)


class ForwardFor:
    """``option forwardfor``, compiled: which clients get the header, and which header."""

    __slots__ = ("header", "if_none", "network")

    def __init__(self, header: str, except_net: str | None, if_none: bool) -> None:
        self.header = header.encode()
        self.network = ipaddress.ip_network(except_net, strict=False) if except_net else None
        self.if_none = if_none

    def value_for(self, head: Head, client_ip: str) -> tuple[bytes, bytes] | None:
        if self.network is not None:
            try:
                if ipaddress.ip_address(client_ip) in self.network:
                    return None
            except ValueError:
                pass
        if self.if_none and head.header(self.header.lower()) is not None:
            return None
        return self.header, client_ip.encode()
