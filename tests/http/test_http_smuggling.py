"""Malformed and smuggling requests: the proxy answers them itself, and no byte reaches a server.

Each case is sent whole, in one write, on a fresh connection. Outcomes:

- a status (``"400"``, ``"501"``, …): the client got that status from the proxy, and the
  backend accepted no connection and received no byte (its raw log is empty);
- ``"fwd"``: the proxy forwarded it, and what the backend got is unambiguous: no request
  carries both Content-Length and Transfer-Encoding, more than one Content-Length, or a
  Transfer-Encoding other than ``chunked``, and every byte parsed as a request;
- ``"close"``: the connection was closed with no answer and nothing reached the backend.

``haproxy`` is what HAProxy 2.6 does (verified: the test runs against it); ``also`` lists the
other outcomes the RFCs allow and that a stricter proxy (lb's design rejects obs-fold, CL+TE,
…) may choose. ``note`` says where HAProxy departs from RFC 9112 / 9110.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from tests.support.http_clients import outcome

H = b"Host: a\r\n"
SMUG = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
ZERO = b"0\r\n\r\n"


def post(headers: bytes, body: bytes = b"", line: bytes = b"POST /x HTTP/1.1") -> bytes:
    return line + b"\r\n" + H + headers + b"\r\n" + body


def get_h(headers: bytes, line: bytes = b"GET /x HTTP/1.1") -> bytes:
    return line + b"\r\n" + H + headers + b"\r\n"


def chunked(body: bytes) -> bytes:
    return post(b"Transfer-Encoding: chunked\r\n", body)


@dataclass(frozen=True)
class Case:
    id: str
    raw: bytes
    haproxy: str  # what HAProxy 2.6 does
    also: tuple[str, ...] = ()  # other outcomes the RFC allows (a stricter proxy's choice)
    note: str = ""  # where HAProxy departs from RFC 9112 / 9110
    haproxy_wrong: bool = False  # HAProxy's outcome breaks the RFC: not allowed for lb

    def allowed(self, proxy_kind: str) -> set[str]:
        if proxy_kind == "haproxy":
            return {self.haproxy}
        return set(self.also) | (set() if self.haproxy_wrong else {self.haproxy})


_CLTE_BODY = ZERO + SMUG
_HUGE = b"X-Big: " + b"a" * 17_000 + b"\r\n"

CASES = [
    # ------------------------------------------------------------ framing: CL and TE
    Case(
        "cl-and-te",
        post(b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(_CLTE_BODY), _CLTE_BODY),
        "fwd",
        ("400",),
        "RFC 9112 6.3 allows it: chunked wins, CL removed; lb's design rejects with 400",
    ),
    Case(
        "te-and-cl",
        post(b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n" % len(_CLTE_BODY), _CLTE_BODY),
        "fwd",
        ("400",),
        "as cl-and-te",
    ),
    Case("two-cl-differ", post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"), "400"),
    Case(
        "two-cl-same",
        post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"),
        "fwd",
        ("400",),
        "RFC 9110 8.6 allows merging identical values",
    ),
    Case("cl-list-differ", post(b"Content-Length: 5, 6\r\n", b"hello!"), "400"),
    Case(
        "cl-list-same",
        post(b"Content-Length: 5, 5\r\n", b"hello"),
        "fwd",
        ("400",),
        "RFC 9110 8.6 allows merging identical values",
    ),
    Case("cl-plus", post(b"Content-Length: +5\r\n", b"hello"), "400"),
    Case("cl-minus", post(b"Content-Length: -5\r\n", b"hello"), "400"),
    Case("cl-hex", post(b"Content-Length: 0x5\r\n", b"hello"), "400"),
    Case("cl-inner-space", post(b"Content-Length: 1 2\r\n", b"hello world!"), "400"),
    Case("cl-trailing-junk", post(b"Content-Length: 5x\r\n", b"hello"), "400"),
    Case("cl-empty", post(b"Content-Length: \r\n", b"hello"), "400"),
    Case("cl-overflow", post(b"Content-Length: 99999999999999999999999\r\n", b"hello"), "400"),
    Case("cl-leading-zeros", post(b"Content-Length: 005\r\n", b"hello"), "fwd", ("400",)),
    # ------------------------------------------------------------ framing: Transfer-Encoding
    Case("te-gzip", post(b"Transfer-Encoding: gzip\r\n", b"hello"), "400"),
    Case("te-identity", post(b"Transfer-Encoding: identity\r\n", b"hello"), "400", ("501",)),
    Case("te-chunked-identity", post(b"Transfer-Encoding: chunked, identity\r\n", ZERO), "400"),
    Case("te-chunked-twice", post(b"Transfer-Encoding: chunked, chunked\r\n", ZERO), "400"),
    Case(
        "te-two-lines-chunked",
        post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", ZERO),
        "400",
    ),
    Case("te-xchunked", post(b"Transfer-Encoding: xchunked\r\n", ZERO), "400", ("501",)),
    Case("te-upper-case", post(b"Transfer-Encoding: CHUNKED\r\n", ZERO), "fwd"),
    Case(
        "te-gzip-chunked",
        post(b"Transfer-Encoding: gzip, chunked\r\n", ZERO),
        "422",
        ("fwd", "501", "400"),
        "valid framing; HAProxy 2.6 answers 422 to any request coding but chunked",
    ),
    Case("te-obs-fold", post(b"Transfer-Encoding:\r\n chunked\r\n", ZERO), "fwd", ("400",)),
    Case("te-space-before-colon", post(b"Transfer-Encoding : chunked\r\n", ZERO), "400"),
    Case("te-vtab", post(b"Transfer-Encoding: \x0bchunked\r\n", ZERO), "400"),
    Case(
        "te-http10",
        post(b"Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n" + ZERO, b"POST /x HTTP/1.0"),
        "fwd",
        ("400",),
        "RFC 9112 6.1: faulty framing in HTTP/1.0; HAProxy forwards it chunked, then closes",
    ),
    # ------------------------------------------------------------ chunk sizes
    Case("chunk-0x", chunked(b"0x5\r\nhello\r\n" + ZERO), "400"),
    Case("chunk-negative", chunked(b"-1\r\nhello\r\n" + ZERO), "400"),
    Case("chunk-plus", chunked(b"+5\r\nhello\r\n" + ZERO), "400"),
    Case("chunk-huge", chunked(b"ffffffffffffffffffff\r\nhello\r\n" + ZERO), "400"),
    Case("chunk-not-hex", chunked(b"zz\r\nhello\r\n" + ZERO), "400"),
    Case("chunk-empty-size", chunked(b"\r\nhello\r\n" + ZERO), "400"),
    Case("chunk-missing-crlf", chunked(b"5\r\nhelloX0\r\n\r\n"), "400"),
    Case("chunk-too-long-data", chunked(b"3\r\nhello\r\n" + ZERO), "400"),
    Case("chunk-space-in-size", chunked(b"5 5\r\nhello\r\n" + ZERO), "400"),
    Case("chunk-ext", chunked(b"5;name=value\r\nhello\r\n" + ZERO), "fwd"),
    Case("chunk-leading-zeros", chunked(b"0005\r\nhello\r\n" + ZERO), "fwd"),
    Case(
        "chunk-bare-lf",
        chunked(b"5\nhello\n0\n\n"),
        "fwd",
        ("400",),
        "HAProxy accepts a bare LF after chunk sizes and data (RFC 9112 7.1 says CRLF)",
    ),
    # ------------------------------------------------------------ header syntax
    Case(
        "obs-fold",
        get_h(b"X-A: one\r\n two\r\n"),
        "fwd",
        ("400",),
        "RFC 9112 5.2: a proxy must reject or unfold; HAProxy unfolds",
    ),
    Case("space-before-colon", get_h(b"X-A : b\r\n"), "400"),
    Case("tab-before-colon", get_h(b"X-A\t: b\r\n"), "400"),
    Case(
        "nul-in-value",
        get_h(b"X-A: a\x00b\r\n"),
        "fwd",
        ("400",),
        "RFC 9110 5.5: NUL must be rejected or replaced by SP; HAProxy 2.6 forwards it as is",
        haproxy_wrong=True,
    ),
    Case("nul-in-name", get_h(b"X-\x00A: b\r\n"), "400"),
    Case("cr-in-value", get_h(b"X-A: a\rb\r\n"), "400"),
    Case(
        "del-in-value",
        get_h(b"X-A: a\x7fb\r\n"),
        "fwd",
        ("400",),
        "RFC 9110 5.5: DEL is not a field-vchar",
    ),
    Case("obs-text-in-value", get_h(b"X-A: caf\xe9\r\n"), "fwd"),
    Case("no-colon", get_h(b"X-A b\r\n"), "400"),
    Case("empty-name", get_h(b": b\r\n"), "400"),
    Case("bad-name-char", get_h(b"X@A: b\r\n"), "400"),
    Case("space-in-name", get_h(b"X A: b\r\n"), "400"),
    Case("leading-space-first-header", b"GET /x HTTP/1.1\r\n Host: a\r\n\r\n", "400"),
    Case(
        "bare-lf-line-ends",
        b"GET /x HTTP/1.1\nHost: a\nX-A: b\n\n",
        "fwd",
        ("400",),
        "RFC 9112 2.2: a recipient MAY accept a bare LF",
    ),
    Case("bare-cr-line-ends", b"GET /x HTTP/1.1\rHost: a\r\r\n", "400"),
    Case("lf-in-value", b"GET /x HTTP/1.1\r\nHost: a\r\nX-A: a\nb\r\n\r\n", "400"),
    # ------------------------------------------------------------ request line
    Case("bad-method-char", b"G@T /x HTTP/1.1\r\n" + H + b"\r\n", "400"),
    # lb parses with llhttp, which knows a fixed list of methods (all of RFC 9110's, WebDAV's
    # and more): anything else is refused with 400 before a server sees it. Stricter than
    # HAProxy, and documented in docs/http.md.
    Case("method-lowercase", b"get /x HTTP/1.1\r\n" + H + b"\r\n", "fwd", ("400",)),
    Case(
        "method-unknown-token",
        b"FOOBAR /x HTTP/1.1\r\n" + H + b"\r\n",
        "fwd",
        ("400",),
        "any token is a method (RFC 9110 9.1); an unknown one is for the server to refuse",
    ),
    Case("uri-space", b"GET /a b HTTP/1.1\r\n" + H + b"\r\n", "400"),
    Case("uri-ctl", b"GET /a\x01b HTTP/1.1\r\n" + H + b"\r\n", "400"),
    Case(
        "uri-del",
        b"GET /a\x7fb HTTP/1.1\r\n" + H + b"\r\n",
        "fwd",
        ("400",),
        "RFC 3986: DEL is not a URI character; HAProxy forwards it",
    ),
    Case("uri-high-byte", b"GET /caf\xe9 HTTP/1.1\r\n" + H + b"\r\n", "400"),
    Case("uri-fragment", b"GET /a#frag HTTP/1.1\r\n" + H + b"\r\n", "400"),
    Case(
        "double-space",
        b"GET  /x HTTP/1.1\r\n" + H + b"\r\n",
        "fwd",
        ("400",),
        "RFC 9112 3 allows parsing on whitespace; HAProxy forwards it with one space",
    ),
    Case("http09", b"GET /x\r\n\r\n", "400"),
    Case(
        "version-1.2",
        b"GET /x HTTP/1.2\r\n" + H + b"\r\n",
        "fwd",
        ("505", "400"),
        "treated as HTTP/1.1, as RFC 9112 2.3 allows for a higher minor version",
    ),
    Case(
        "version-2.0",
        b"GET /x HTTP/2.0\r\n" + H + b"\r\n",
        "fwd",
        ("505", "400"),
        "HAProxy forwards it rewritten as HTTP/1.1; RFC 9110 2.5 allows 505",
    ),
    Case("version-lowercase", b"GET /x http/1.1\r\n" + H + b"\r\n", "400"),
    Case("version-junk", b"GET /x HTTP/x.y\r\n" + H + b"\r\n", "400"),
    Case("leading-crlf", b"\r\nGET /x HTTP/1.1\r\n" + H + b"\r\n", "fwd"),
    Case(
        "request-line-over-16k",
        b"GET /" + b"a" * 17_000 + b" HTTP/1.1\r\n" + H + b"\r\n",
        "400",
        ("414",),
    ),
    Case("header-block-over-16k", get_h(_HUGE), "400", ("431",)),
    Case(
        "over-101-headers",
        get_h(b"".join(b"X-H%d: v\r\n" % i for i in range(101))),
        "400",
        ("431",),
    ),
    # ------------------------------------------------------------ Host
    Case(
        "no-host-http11",
        b"GET /x HTTP/1.1\r\nX-A: b\r\n\r\n",
        "fwd",
        ("400",),
        "RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host",
    ),
    Case("two-hosts", b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"),
    Case(
        "host-absolute-uri-differ",
        b"GET http://a/x HTTP/1.1\r\nHost: b\r\n\r\n",
        "400",
        ("fwd",),
        "RFC 9112 3.2.2 says use the URI's authority and ignore Host",
    ),
    Case(
        "host-with-space",
        b"GET /x HTTP/1.1\r\nHost: a b\r\n\r\n",
        "fwd",
        ("400",),
        "RFC 9110 7.2: Host is uri-host [:port]; a space is not allowed",
    ),
]

assert len(CASES) >= 40
assert len({c.id for c in CASES}) == len(CASES)


def check_forwarded(backend: object, case: Case) -> None:  # type: ignore[no-untyped-def]
    reqs = backend.wait_requests(1, timeout=3)  # type: ignore[attr-defined]
    assert reqs, "forwarded, yet the backend logged no request"
    assert not backend.events("bad"), backend.events("bad")  # type: ignore[attr-defined]
    for r in reqs:
        names = [k.lower() for k, _ in r["headers"]]
        te = [v for k, v in r["headers"] if k.lower() == "transfer-encoding"]
        codings = [c.strip().lower() for v in te for c in v.split(",")]
        assert not ("content-length" in names and te), r["headers"]
        assert names.count("content-length") <= 1, r["headers"]
        assert not codings or (codings[-1] == "chunked" and codings.count("chunked") == 1), te
        if not case.haproxy_wrong:  # HAProxy forwards a NUL in a value
            assert all(b"\x00" not in f"{k}{v}".encode("latin-1") for k, v in r["headers"])


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_request(start_proxy, http_backend, proxy_kind: str, case: Case) -> None:  # type: ignore[no-untyped-def]
    b = http_backend("s1")
    proxy = start_proxy([("s1", b.port)], defaults_lines=["timeout http-request 2s"])
    got = outcome(proxy.port, case.raw, timeout=5)
    if got.status is None:
        result = "close"
    elif got.response is not None and got.response.has("x-server"):
        result = "fwd"
    else:
        result = str(got.status)
    allowed = case.allowed(proxy_kind)
    assert result in allowed, f"{case.id}: got {result} ({got.error}); allowed {sorted(allowed)}"
    if result == "fwd":
        check_forwarded(b, case)
    else:
        time.sleep(0.3)  # give the backend a moment
        assert b.raw_received() == b"", f"bytes reached the backend: {b.raw_received()[:300]!r}"
        assert b.accepted() == 0
        assert got.closed, "the proxy kept the connection open after rejecting the request"
