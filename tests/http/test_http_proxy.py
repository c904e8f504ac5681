"""mode http proxying, checked against lb and HAProxy (the reference) alike.

Three channels: what the client gets (raw-socket clients), what the backend got (its raw
log), and the proxy's own answers (400, 408, 502, 503, 504). Where HAProxy 2.6 departs from
RFC 9110/9112 the test states the RFC's behaviour and is an expected failure for HAProxy,
with the reason.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import pytest

from tests.support.clients import free_port
from tests.support.http_clients import (
    HttpConn,
    IncompleteResponse,
    build_request,
    chunked_body,
    get,
    http_request,
    send_pattern,
)
from tests.support.http_servers import HttpBackend, header_values, request_head
from tests.support.servers import pattern_digest

MB = 1 << 20
EMPTY_SHA = hashlib.sha256(b"").hexdigest()

BackendFactory = Callable[..., HttpBackend]


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def rfc_or_haproxy_known(
    proxy_kind: str, violations: set[str], haproxy: set[str], why: str
) -> None:
    """Assert the RFC's behaviour (no violations); on HAProxy, pin its known departure instead.

    On HAProxy the test checks that the violations are exactly the known ones (so a change in
    HAProxy shows), then ends as an expected failure with the reason.
    """
    if proxy_kind == "haproxy":
        assert violations == haproxy
        pytest.xfail(f"HAProxy 2.6 departs from the RFC: {why}")
    assert not violations


@pytest.fixture
def one(start_proxy, http_backend):  # type: ignore[no-untyped-def]
    """A proxy in front of one backend ``s1``: (proxy, backend)."""

    def make(**sections):  # type: ignore[no-untyped-def]
        b = http_backend("s1")
        return start_proxy([("s1", b.port)], **sections), b

    return make


# ---------------------------------------------------------------------- methods and bodies


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_methods(one, method: str) -> None:  # type: ignore[no-untyped-def]
    proxy, b = one()
    body = None if method in ("GET", "DELETE", "OPTIONS") else b"payload of " + method.encode()
    r = http_request(proxy.port, build_request(method, "/m?x=1", body=body))
    assert r.status == 200
    assert r.header("x-method") == method
    assert r.header("x-body-len") == str(len(body or b""))
    assert r.header("x-body-sha256") == sha(body or b"")
    (req,) = b.wait_requests(1)
    assert req["method"] == method and req["target"] == "/m?x=1"
    assert req["version"] == "HTTP/1.1"


@pytest.mark.slow
def test_upload_100mb_digest(one) -> None:  # type: ignore[no-untyped-def]
    proxy, _b = one()
    size = 100 * MB
    with HttpConn(proxy.port, timeout=60) as c:
        c.send(build_request("POST", "/up", [("Content-Length", str(size))]))
        send_pattern(c, seed=7, size=size)
        r = c.read_response()
    assert r.status == 200
    assert r.header("x-body-len") == str(size)
    assert r.header("x-body-sha256") == pattern_digest(7, size)


@pytest.mark.slow
def test_download_100mb_digest(one) -> None:  # type: ignore[no-untyped-def]
    proxy, _b = one()
    size = 100 * MB
    r = http_request(
        proxy.port, build_request("GET", "/down?s=100m&seed=3"), timeout=60, keep_body=False
    )
    assert r.status == 200 and r.body_len == size
    assert r.body_sha256 == pattern_digest(3, size)


def test_chunked_request_is_dechunked_intact(one) -> None:  # type: ignore[no-untyped-def]
    proxy, b = one()
    data = bytes(range(256)) * 1000
    raw = build_request("POST", "/c", [("Transfer-Encoding", "chunked")])
    raw += chunked_body(data, [1, 7, 4096, 100_000, 3])
    r = http_request(proxy.port, raw)
    assert r.status == 200
    assert r.header("x-body-len") == str(len(data)) and r.header("x-body-sha256") == sha(data)
    (req,) = b.wait_requests(1)
    assert req["body_sha256"] == sha(data)


def test_chunked_request_trailers_reach_the_server(one) -> None:  # type: ignore[no-untyped-def]
    proxy, b = one()
    data = b"hello trailers" * 10
    raw = build_request("POST", "/t", [("Transfer-Encoding", "chunked"), ("Trailer", "X-Check")])
    raw += chunked_body(data, [16], trailers=[("X-Check", "abc123")])
    r = http_request(proxy.port, raw)
    assert r.status == 200 and r.header("x-body-sha256") == sha(data)
    (req,) = b.wait_requests(1)
    assert req["chunked"]
    assert [t[1] for t in req["trailers"] if t[0].lower() == "x-check"] == ["abc123"]


@pytest.mark.parametrize("trailers", [False, True])
def test_chunked_response(one, trailers: bool) -> None:  # type: ignore[no-untyped-def]
    proxy, _b = one()
    q = "/d?s=300k&chunked=1&cs=7000&seed=9" + ("&trailers=1" if trailers else "")
    with HttpConn(proxy.port) as c:
        c.send(build_request("GET", q))
        r = c.read_response()
        assert r.status == 200 and r.chunked
        assert r.body_len == 300 * 1024 and r.body_sha256 == pattern_digest(9, 300 * 1024)
        if trailers:
            assert ("x-trailer", "yes") in [(k.lower(), v) for k, v in r.trailers]
        # the connection is still usable: the response ended where it should
        c.send(build_request("GET", "/after"))
        assert c.read_response().status == 200


def test_close_delimited_response(one) -> None:  # type: ignore[no-untyped-def]
    proxy, _b = one()
    r = get(proxy.port, "/cd?s=200k&close=1&seed=4")
    assert r.status == 200
    assert r.body_len == 200 * 1024 and r.body_sha256 == pattern_digest(4, 200 * 1024)


# ---------------------------------------------------------------------- connections


def test_keepalive_reuses_one_server_connection(one) -> None:  # type: ignore[no-untyped-def]
    proxy, b = one(defaults_lines=["option http-keep-alive", "timeout http-keep-alive 10s"])
    with HttpConn(proxy.port) as c:
        for i in range(100):
            c.send(build_request("GET", f"/k{i}?s=100"))
            r = c.read_response()
            assert r.status == 200 and r.body_len == 100
    assert len(b.wait_requests(100)) == 100
    assert b.accepted() <= 2, f"{b.accepted()} server connections for 100 requests"


def test_server_close_closes_each_server_connection(one) -> None:  # type: ignore[no-untyped-def]
    proxy, b = one(defaults_lines=["option http-server-close"])
    n = 10
    with HttpConn(proxy.port) as c:
        for i in range(n):
            c.send(build_request("GET", f"/sc{i}"))
            r = c.read_response()
            assert r.status == 200
            assert "close" not in r.connection_tokens()  # the client side stays open
    assert b.accepted() == n
    closes = b.wait_events("close", n)
    assert len(closes) == n and all(e["requests"] == 1 for e in closes)


def test_client_connection_close_is_honoured(one) -> None:  # type: ignore[no-untyped-def]
    proxy, _b = one()
    with HttpConn(proxy.port) as c:
        c.send(build_request("GET", "/bye", [("Connection", "close")]))
        r = c.read_response()
        assert r.status == 200
        assert c.wait_closed(3.0)


def test_http10_client_without_keepalive_is_closed(one) -> None:  # type: ignore[no-untyped-def]
    proxy, _b = one()
    with HttpConn(proxy.port) as c:
        c.send(b"GET /old?s=10 HTTP/1.0\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body_len == 10
        assert c.wait_closed(3.0)


def test_pipelined_requests_answered_in_order(one) -> None:  # type: ignore[no-untyped-def]
    proxy, _b = one()
    raw = b"".join(
        build_request("GET", p) for p in ("/p1?t=150ms", "/p2?s=5000", "/p3?t=20ms&chunked=1")
    )
    with HttpConn(proxy.port) as c:
        c.send(raw)  # three requests in one write
        r1, r2, r3 = (c.read_response() for _ in range(3))
    assert (r1.status, r2.status, r3.status) == (200, 200, 200)
    assert r1.body == b"s1 GET /p1\n"
    assert r2.body_len == 5000
    assert r3.body == b"s1 GET /p3\n"


# ---------------------------------------------------------------------- bodiless answers


def test_head_has_no_body(one) -> None:  # type: ignore[no-untyped-def]
    proxy, _b = one()
    with HttpConn(proxy.port) as c:
        c.send(build_request("HEAD", "/h?s=20k"))
        r = c.read_response("HEAD")
        assert r.status == 200 and r.header("content-length") == str(20 * 1024)
        c.send(build_request("HEAD", "/h?s=20k&chunked=1"))
        r = c.read_response("HEAD")
        assert r.status == 200
        # no stray body bytes: the next response on the connection parses
        c.send(build_request("GET", "/next?s=3"))
        r = c.read_response()
        assert r.status == 200 and r.body_len == 3


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_status(one, status: int) -> None:  # type: ignore[no-untyped-def]
    proxy, _b = one()
    with HttpConn(proxy.port) as c:
        c.send(build_request("GET", f"/n?r={status}"))
        r = c.read_response()
        assert r.status == status and r.body == b""
        c.send(build_request("GET", "/next?s=3"))
        r = c.read_response()
        assert r.status == 200 and r.body_len == 3


def test_expect_100_continue(one) -> None:  # type: ignore[no-untyped-def]
    proxy, b = one()
    body = b"x" * 50_000
    with HttpConn(proxy.port, timeout=5) as c:
        c.send(
            build_request(
                "POST", "/e", [("Expect", "100-continue"), ("Content-Length", str(len(body)))]
            )
        )
        interim = c.read_head()  # before any body byte is sent
        assert interim.status == 100
        c.send(body)
        r = c.read_response()
    assert r.status == 200 and r.header("x-body-sha256") == sha(body)
    (req,) = b.wait_requests(1)
    assert req["body_len"] == len(body)


def test_interim_103_is_forwarded(one) -> None:  # type: ignore[no-untyped-def]
    proxy, _b = one()
    r = get(proxy.port, "/i?info=103&s=10")
    assert [x.status for x in r.interim] == [103]
    assert r.interim[0].header("link") == "</style.css>"
    assert r.status == 200 and r.body_len == 10


# ---------------------------------------------------------------------- WebSocket


def test_websocket_echo(one) -> None:  # type: ignore[no-untyped-def]
    ws_client = pytest.importorskip("websockets.sync.client")
    proxy, b = one(defaults_lines=["timeout tunnel 30s"])
    with ws_client.connect(
        f"ws://127.0.0.1:{proxy.port}/ws", proxy=None, compression=None, open_timeout=5
    ) as ws:
        ws.send("hello through the proxy")
        assert ws.recv(timeout=5) == "hello through the proxy"
        blob = bytes(range(256)) * 2000
        ws.send(blob)
        assert ws.recv(timeout=5) == blob
        ws.ping().wait(5)
    frames = b.wait_events("ws", 4)
    assert [f["opcode"] for f in frames][:2] == [1, 2]


# ---------------------------------------------------------------------- headers


def test_x_forwarded_for_appended(one) -> None:  # type: ignore[no-untyped-def]
    proxy, b = one(defaults_lines=["option forwardfor except 10.0.0.0/8"])
    get(proxy.port, "/xff")
    get(proxy.port, "/xff2", [("X-Forwarded-For", "192.0.2.7")])
    r1, r2 = b.wait_requests(2)
    assert header_values(r1, "x-forwarded-for") == ["127.0.0.1"]
    # HAProxy appends a header line of its own; the client's line is left as it was
    assert header_values(r2, "x-forwarded-for") == ["192.0.2.7", "127.0.0.1"]


def test_x_forwarded_for_except_network(one) -> None:  # type: ignore[no-untyped-def]
    proxy, b = one(defaults_lines=["option forwardfor except 127.0.0.0/8"])
    get(proxy.port, "/xff")
    get(proxy.port, "/xff2", [("X-Forwarded-For", "192.0.2.7")])
    r1, r2 = b.wait_requests(2)
    assert header_values(r1, "x-forwarded-for") == []
    assert header_values(r2, "x-forwarded-for") == ["192.0.2.7"]


HOP_BY_HOP = [
    ("Connection", "X-Private, keep-alive"),
    ("X-Private", "secret"),
    ("Keep-Alive", "timeout=5"),
    ("TE", "trailers"),
    ("Trailer", "X-T"),
    ("Proxy-Connection", "keep-alive"),
    ("Upgrade", "h2c"),
]


def test_hop_by_hop_request_headers_removed(one, proxy_kind: str) -> None:  # type: ignore[no-untyped-def]
    proxy, b = one()
    r = get(proxy.port, "/hbh", [*HOP_BY_HOP, ("X-End-To-End", "kept")])
    assert r.status == 200
    (req,) = b.wait_requests(1)
    names = {k.lower() for k, _ in req["headers"]}
    assert "x-end-to-end" in names
    left = names & {"x-private", "keep-alive", "te", "trailer", "proxy-connection", "upgrade"}
    conn = {t.strip().lower() for v in header_values(req, "connection") for t in v.split(",")}
    left |= {f"connection: {t}" for t in conn & {"x-private", "keep-alive"}}
    rfc_or_haproxy_known(
        proxy_kind,
        left,
        {
            "x-private",
            "keep-alive",
            "te",
            "trailer",
            "proxy-connection",
            "upgrade",
            "connection: x-private",
        },
        "RFC 9110 7.6.1: it forwards X-Private (listed in Connection), Keep-Alive, TE, "
        "Trailer, Proxy-Connection and Upgrade; it only drops keep-alive/close from Connection",
    )


def test_hop_by_hop_response_headers_removed(one, proxy_kind: str) -> None:  # type: ignore[no-untyped-def]
    proxy, _b = one()
    hdrs = "&".join(
        "hdr=" + h
        for h in (
            "Connection:%20X-Private",
            "X-Private:%20secret",
            "Keep-Alive:%20timeout=5",
            "Proxy-Connection:%20keep-alive",
            "Upgrade:%20h2c",
            "TE:%20trailers",
            "X-End-To-End:%20kept",
        )
    )
    r = get(proxy.port, "/hbh?" + hdrs)
    assert r.status == 200 and r.has("x-end-to-end")
    names = {k.lower() for k, _ in r.headers}
    left = names & {"x-private", "keep-alive", "proxy-connection", "upgrade", "te", "trailer"}
    conn = {t for t in r.connection_tokens() if t}
    left |= {f"connection: {t}" for t in conn - {"close", "keep-alive"}}
    rfc_or_haproxy_known(
        proxy_kind,
        left,
        {"x-private", "keep-alive", "proxy-connection", "upgrade", "te", "connection: x-private"},
        "RFC 9110 7.6.1: it forwards the server's hop-by-hop response headers too",
    )


# ---------------------------------------------------------------------- the proxy's own errors


def test_400_for_garbage(one) -> None:  # type: ignore[no-untyped-def]
    proxy, b = one()
    r = http_request(proxy.port, b"THIS IS NOT HTTP\r\n\r\n")
    assert r.status == 400
    time.sleep(0.2)
    assert b.raw_received() == b"" and b.accepted() == 0


def test_408_on_incomplete_head(one) -> None:  # type: ignore[no-untyped-def]
    proxy, b = one(defaults_lines=["timeout http-request 1s"])
    with HttpConn(proxy.port, timeout=5) as c:
        t0 = time.monotonic()
        c.send(b"GET /slow HTTP/1.1\r\nHost: test\r\n")  # no blank line: the head never ends
        r = c.read_response()
        took = time.monotonic() - t0
        assert r.status == 408
        assert 0.8 < took < 2.5, took
        assert c.wait_closed(2.0)
    assert b.accepted() == 0


@pytest.mark.parametrize("bad", ["garbage", "status", "cl", "space"])
def test_502_for_invalid_server_response(one, bad: str) -> None:  # type: ignore[no-untyped-def]
    proxy, _b = one()
    r = get(proxy.port, f"/bad?bad={bad}")
    assert r.status == 502


def test_502_when_server_closes_without_answer(one) -> None:  # type: ignore[no-untyped-def]
    proxy, _b = one()
    assert get(proxy.port, "/x?die=before-head").status == 502


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_no_replay_once_the_request_was_sent(one, method: str) -> None:  # type: ignore[no-untyped-def]
    """A server that took the request and closed without answering gets it once: 502, no retry.

    (HAProxy's default ``retry-on`` is ``conn-failure`` only: nothing is resent once the
    request has left, so a POST is never replayed.)
    """
    proxy, b = one(defaults_lines=["retries 3"])
    body = b"once" if method == "POST" else None
    r = http_request(proxy.port, build_request(method, "/x?die=before-head", body=body))
    assert r.status == 502
    time.sleep(0.3)
    assert len(b.requests()) == 1, [e["target"] for e in b.requests()]


def test_503_when_every_server_refuses(start_proxy) -> None:  # type: ignore[no-untyped-def]
    proxy = start_proxy(
        [("dead1", free_port()), ("dead2", free_port())], defaults_lines=["retries 0"]
    )
    for _ in range(3):
        assert get(proxy.port, "/nobody").status == 503


def test_504_on_server_timeout(one) -> None:  # type: ignore[no-untyped-def]
    proxy, b = one(defaults_lines=["timeout server 500ms"])
    t0 = time.monotonic()
    r = get(proxy.port, "/x?hang=1")
    took = time.monotonic() - t0
    assert r.status == 504
    assert 0.4 < took < 2.0, took
    assert len(b.wait_requests(1)) == 1


@pytest.mark.parametrize("how", ["after-head", "mid-chunk"])
def test_server_dying_mid_response_truncates_client(one, how: str) -> None:  # type: ignore[no-untyped-def]
    proxy, _b = one()
    with HttpConn(proxy.port, timeout=5) as c:
        c.send(build_request("GET", f"/x?die={how}"))
        with pytest.raises(IncompleteResponse):
            c.read_response()
        # the client is not left waiting: the connection is closed
        assert c.eof or c.wait_closed(3.0)


def test_refused_server_retried_and_redispatched(start_proxy, http_backend) -> None:  # type: ignore[no-untyped-def]
    good = http_backend("good")
    proxy = start_proxy(
        [("dead", free_port()), ("good", good.port)],
        defaults_lines=["retries 2", "option redispatch"],
        backend_lines=["balance roundrobin"],
    )
    for i in range(10):
        r = get(proxy.port, f"/r{i}", [("Connection", "close")])
        assert r.status == 200 and r.header("x-server") == "good"
    assert len(good.wait_requests(10)) == 10


def test_request_head_reaches_server_unmangled(one) -> None:  # type: ignore[no-untyped-def]
    """The request line and ordinary headers arrive as sent (names compared without case)."""
    proxy, b = one()
    get(proxy.port, "/path/a%20b?q=1&z=%2F", [("X-One", "1"), ("X-Two", "a, b"), ("X-One", "2")])
    (req,) = b.wait_requests(1)
    assert req["target"] == "/path/a%20b?q=1&z=%2F"
    pairs = [(k.lower(), v) for k, v in req["headers"]]
    assert pairs[:4] == [("host", "test"), ("x-one", "1"), ("x-two", "a, b"), ("x-one", "2")]
    assert request_head(req).startswith(b"GET /path/a%20b?q=1&z=%2F HTTP/1.1\r\n")


def test_large_head_in_small_pieces_passes(one) -> None:  # type: ignore[no-untyped-def]
    """A 12 KiB head sent 500 bytes at a time is fine under tune.bufsize (16 KiB).

    (Heads over the limit are in the smuggling corpus: 400, nothing reaches the server.)
    """
    proxy, b = one()
    big = [(f"X-Big-{i}", "v" * 200) for i in range(55)]  # ≈ 12 KiB of headers
    raw = build_request("GET", "/big", big)
    with HttpConn(proxy.port, timeout=5) as c:
        for i in range(0, len(raw), 500):
            c.send(raw[i : i + 500])
            time.sleep(0.002)
        assert c.read_response().status == 200
    assert len(b.wait_requests(1)) == 1
