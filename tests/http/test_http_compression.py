"""HTTP response compression (``compression algo|type|offload``), lb and HAProxy side by side.

What the client gets: the Content-Encoding decision, bodies that decompress to exactly the
server's bytes (the deterministic pattern of tests/support/servers.py, fixed-length and
chunked, 20 kB and 1 MB), identity bytes when nothing is compressed; what the server gets
(offload strips Accept-Encoding); the counters (comp_in, comp_out, comp_byp, comp_rsp) in
``show stat`` and /metrics. Where lb chooses differently from HAProxy 2.6 (br, the minimum
size, ``*`` after a refused coding) the test says so and runs on lb only, or pins HAProxy's
answer and ends as an expected failure.
"""

from __future__ import annotations

import csv
import io
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import brotli
import pytest

from tests.support.api import api_call
from tests.support.http_clients import HttpConn, Response, build_request
from tests.support.http_servers import HttpBackend, header_values
from tests.support.servers import pattern_digest

TEXT = "hdr=Content-Type:text/plain"
LB_ONLY = pytest.mark.parametrize("proxy_kind", ["lb"], indirect=True)


def decoded(r: Response) -> bytes:
    """The body with its Content-Encoding undone."""
    coding = (r.header("content-encoding") or "").lower()
    if coding == "gzip":
        return zlib.decompress(r.body, 16 + zlib.MAX_WBITS)
    if coding == "deflate":  # zlib format (deflate) or raw (raw-deflate): both say deflate
        try:
            return zlib.decompress(r.body)
        except zlib.error:
            return zlib.decompress(r.body, -zlib.MAX_WBITS)
    if coding == "br":
        return bytes(brotli.decompress(r.body))
    assert not coding, coding
    return r.body


def sha(b: bytes) -> str:
    import hashlib

    return hashlib.sha256(b).hexdigest()


def fetch(
    port: int,
    target: str,
    accept: str | None = "gzip",
    method: str = "GET",
    version: str = "HTTP/1.1",
    headers: Sequence[tuple[str, str]] = (),
) -> Response:
    hdrs = list(headers)
    if accept is not None:
        hdrs.append(("Accept-Encoding", accept))
    with HttpConn(port, 20.0) as c:
        c.send(build_request(method, target, hdrs, version=version))
        return c.read_response(method)


@pytest.fixture
def proxied(start_proxy: Any, http_backend: Callable[..., HttpBackend]) -> Callable[..., Any]:
    """``port, backend = proxied(frontend_lines=[…], backend_lines=[…])``."""

    def make(**sections: Sequence[str]) -> tuple[int, HttpBackend]:
        b = http_backend("s1")
        proxy = start_proxy([("s1", b.port)], **sections)
        return proxy.port, b

    return make


# ---------------------------------------------------------------------- algorithms


@pytest.mark.parametrize("size", [20_000, 1 << 20])
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
@pytest.mark.parametrize("algo", ["gzip", "deflate", "raw-deflate"])
def test_compressed_bodies_decompress_to_the_original(
    proxied: Any, algo: str, chunked: bool, size: int
) -> None:
    _round_trip(proxied, algo, chunked, size)


@pytest.mark.parametrize("proxy_kind", ["lb"])  # HAProxy 2.6 has no brotli: lb's addition
@pytest.mark.parametrize("size", [20_000, 1 << 20])
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_brotli_bodies_decompress_to_the_original(
    proxied: Any, proxy_kind: str, chunked: bool, size: int
) -> None:
    _round_trip(proxied, "br", chunked, size)


def _round_trip(proxied: Any, algo: str, chunked: bool, size: int) -> None:
    port, _ = proxied(frontend_lines=[f"compression algo {algo}"])
    token = "deflate" if algo == "raw-deflate" else algo
    target = f"/x?s={size}&seed=7&{TEXT}" + ("&chunked=1&cs=5000" if chunked else "")
    r = fetch(port, target, accept=f"{token}, identity;q=0.5")
    assert r.status == 200
    assert r.header("content-encoding") == token
    assert "accept-encoding" in (r.header("vary") or "").lower()
    assert not r.has("content-length") and r.chunked
    assert sha(decoded(r)) == pattern_digest(7, size)


def test_no_accept_encoding_gets_identity_bytes(proxied: Any) -> None:
    port, _ = proxied(frontend_lines=["compression algo gzip"])
    r = fetch(port, f"/x?s=30k&seed=3&{TEXT}", accept=None)
    assert not r.has("content-encoding") and not r.has("vary")
    assert r.header("content-length") == str(30 * 1024)
    assert r.body_sha256 == pattern_digest(3, 30 * 1024)


def test_no_compression_configured_passes_everything(proxied: Any) -> None:
    port, _ = proxied()
    r = fetch(port, f"/x?s=30k&{TEXT}")
    assert not r.has("content-encoding")
    assert r.header("content-length") == str(30 * 1024)


# ---------------------------------------------------------------------- negotiation


@pytest.mark.parametrize(
    ("algos", "accept", "expected"),
    [
        ("gzip", "gzip;q=0", None),  # refused
        ("gzip", "GZIP", "gzip"),  # tokens are case-insensitive
        ("gzip", "x-gzip", None),
        ("gzip", "br, compress", None),
        ("gzip deflate", "deflate, gzip", "deflate"),  # the client's order at equal q
        ("gzip deflate", "deflate;q=0.5, gzip", "gzip"),  # the highest q
        ("gzip deflate", "gzip ; q=0.2 , deflate;q=0.9", "deflate"),
        ("gzip deflate", "*", "deflate"),  # "*": the last configured (HAProxy's list order)
        ("deflate gzip", "*", "gzip"),
        ("gzip", "gzip;q=0.001", "gzip"),
        ("gzip identity", "br", ""),  # identity: chunked and Vary, no Content-Encoding
    ],
)
def test_accept_encoding_negotiation(
    proxied: Any, algos: str, accept: str, expected: str | None
) -> None:
    port, _ = proxied(frontend_lines=[f"compression algo {algos}"])
    r = fetch(port, f"/x?s=20k&seed=2&{TEXT}", accept=accept)
    if expected is None:
        assert not r.has("content-encoding") and not r.has("vary")
        assert r.header("content-length") == str(20 * 1024)
    else:
        assert (r.header("content-encoding") or "") == expected
        assert r.chunked and "Accept-Encoding" in (r.header("vary") or "")
    assert sha(decoded(r)) == pattern_digest(2, 20 * 1024)


def test_star_does_not_bring_back_a_refused_coding(proxied: Any, proxy_kind: str) -> None:
    """RFC 9110 §12.5.3: ``*`` matches codings not listed; gzip;q=0 stays refused."""
    port, _ = proxied(frontend_lines=["compression algo gzip"])
    r = fetch(port, f"/x?s=20k&{TEXT}", accept="gzip;q=0, *")
    if proxy_kind == "haproxy":
        assert r.header("content-encoding") == "gzip"
        pytest.xfail("HAProxy 2.6 lets '*' pick a coding the client refused with q=0")
    assert not r.has("content-encoding")


# ---------------------------------------------------------------------- when not to compress


@pytest.mark.parametrize(
    ("target", "method", "version", "why"),
    [
        (f"/x?s=20k&{TEXT}", "HEAD", "HTTP/1.1", "HEAD"),
        (f"/x?s=20k&r=404&{TEXT}", "GET", "HTTP/1.1", "status 404"),
        (f"/x?r=304&{TEXT}", "GET", "HTTP/1.1", "status 304"),
        (f"/x?r=204&{TEXT}", "GET", "HTTP/1.1", "status 204"),
        (f"/x?s=20k&{TEXT}", "GET", "HTTP/1.0", "HTTP/1.0 client"),
        (f"/x?s=20k&{TEXT}&hdr=Content-Encoding:gzip", "GET", "HTTP/1.1", "already encoded"),
        (f"/x?s=20k&{TEXT}&hdr=Cache-Control:public,%20no-transform", "GET", "HTTP/1.1", "nt"),
        ("/x?s=20k&hdr=Content-Type:multipart/mixed;%20boundary=x", "GET", "HTTP/1.1", "mp"),
        (f"/x?s=20k&{TEXT}&close=1", "GET", "HTTP/1.1", "close-delimited"),
        (f"/x?s=20k&{TEXT}&hdr=ETag:abc", "GET", "HTTP/1.1", "invalid ETag"),
        (f'/x?s=20k&{TEXT}&hdr=ETag:"a"&hdr=ETag:"b"', "GET", "HTTP/1.1", "two ETags"),
    ],
)
def test_not_compressed(proxied: Any, target: str, method: str, version: str, why: str) -> None:
    port, _ = proxied(frontend_lines=["compression algo gzip"])
    r = fetch(port, target, method=method, version=version)
    assert not r.has("vary"), why
    assert r.header("content-encoding") in (None, "gzip"), why  # gzip: the server's own
    if method == "GET" and r.header("content-length"):
        assert len(r.body) == int(r.header("content-length") or 0)


@pytest.mark.parametrize(
    ("types", "content_type", "compressed"),
    [
        ("text/html text/plain", "text/plain", True),
        ("text/html", "text/html;%20charset=utf-8", True),  # parameters ignored (prefix)
        ("TEXT/HTML", "text/html", True),
        ("text/", "text/css", True),  # HAProxy compares prefixes
        ("text/html", "application/octet-stream", False),
        ("text/html", None, False),  # a list and no Content-Type: not compressed
    ],
)
def test_compression_type(
    proxied: Any, types: str, content_type: str | None, compressed: bool
) -> None:
    port, _ = proxied(frontend_lines=["compression algo gzip", f"compression type {types}"])
    hdr = f"&hdr=Content-Type:{content_type}" if content_type else ""
    r = fetch(port, f"/x?s=20k&seed=4{hdr}")
    assert (r.header("content-encoding") == "gzip") is compressed
    assert sha(decoded(r)) == pattern_digest(4, 20 * 1024)


@LB_ONLY
@pytest.mark.parametrize(("size", "compressed"), [(100, False), (1023, False), (1024, True)])
def test_small_responses_pass_as_they_are(proxied: Any, size: int, compressed: bool) -> None:
    """lb's choice (HAProxy 2.6 has no minimum): a Content-Length under 1 kB is sent as is."""
    port, _ = proxied(frontend_lines=["compression algo gzip"])
    r = fetch(port, f"/x?s={size}&seed=5&{TEXT}")
    assert (r.header("content-encoding") == "gzip") is compressed
    assert sha(decoded(r)) == pattern_digest(5, size)


def test_headers_of_a_compressed_response(proxied: Any) -> None:
    port, _ = proxied(frontend_lines=["compression algo gzip"])
    r = fetch(port, f'/x?s=20k&{TEXT}&hdr=ETag:"v1"&hdr=Vary:Origin')
    assert r.header("content-encoding") == "gzip"
    assert r.header("etag") == 'W/"v1"'  # the bytes differ: a strong validator would lie
    assert [v.lower() for v in r.headers_all("vary")] == ["origin", "accept-encoding"]
    r = fetch(port, f'/x?s=20k&{TEXT}&hdr=ETag:W/"v1"')
    assert r.header("etag") == 'W/"v1"'


def test_backend_settings_win_over_the_frontend(proxied: Any) -> None:
    port, _ = proxied(
        frontend_lines=["compression algo gzip", "compression type text/html"],
        backend_lines=["compression algo deflate"],
    )
    # the backend's algorithms; the frontend's types (the backend lists none)
    r = fetch(port, "/x?s=20k&hdr=Content-Type:text/html", accept="gzip, deflate")
    assert r.header("content-encoding") == "deflate"
    r = fetch(port, f"/x?s=20k&{TEXT}", accept="gzip, deflate")
    assert not r.has("content-encoding")


def test_keep_alive_continues_after_compressed_responses(proxied: Any) -> None:
    port, _ = proxied(frontend_lines=["compression algo gzip"])
    with HttpConn(port, 20.0) as c:
        for i in range(3):
            c.request("GET", f"/x?s=50k&seed={i + 1}&{TEXT}", headers=[("Accept-Encoding", "gzip")])
            r = c.read_response()
            assert sha(decoded(r)) == pattern_digest(i + 1, 50 * 1024)


# ---------------------------------------------------------------------- offload


@pytest.mark.parametrize("offload", [False, True])
def test_offload_removes_accept_encoding_at_the_server(proxied: Any, offload: bool) -> None:
    lines = ["compression algo gzip"] + (["compression offload"] if offload else [])
    port, backend = proxied(frontend_lines=lines)
    r = fetch(port, f"/x?s=20k&{TEXT}", accept="gzip, br")
    assert r.header("content-encoding") == "gzip"
    [req] = backend.wait_requests(1)
    assert header_values(req, "accept-encoding") == ([] if offload else ["gzip, br"])
    # a client whose codings lb cannot serve keeps its header: the server may
    r = fetch(port, f"/x?s=20k&{TEXT}", accept="br")
    assert header_values(backend.wait_requests(2)[1], "accept-encoding") == ["br"]


# ---------------------------------------------------------------------- counters


def _stat_rows(proxy: Any) -> dict[tuple[str, str], dict[str, str]]:
    text = api_call(proxy.handle.stats_socket, "show stat")
    reader = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return {(r["pxname"], r["svname"]): r for r in reader}


def test_counters(start_proxy: Any, http_backend: Callable[..., HttpBackend]) -> None:
    b = http_backend("s1")
    proxy = start_proxy([("s1", b.port)], frontend_lines=["compression algo gzip"])
    sent_in = sent_out = 0
    for i in range(5):
        r = fetch(proxy.port, f"/x?s=40k&seed={i + 1}&{TEXT}")
        assert r.header("content-encoding") == "gzip"
        sent_in += 40 * 1024
        sent_out += len(r.body)
    fetch(proxy.port, f"/x?s=40k&{TEXT}", accept=None)  # neither compressed nor bypassing
    want = {"comp_in": sent_in, "comp_out": sent_out, "comp_byp": 0, "comp_rsp": 5}
    deadline = time.monotonic() + 5
    while True:
        rows = _stat_rows(proxy)
        got = {
            row: {k: int(rows[row][k] or 0) for k in want}
            for row in (("fe", "FRONTEND"), ("be", "BACKEND"))
        }
        if all(g == want for g in got.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert got == {("fe", "FRONTEND"): want, ("be", "BACKEND"): want}


def test_identity_counts_as_bypassed(
    start_proxy: Any, http_backend: Callable[..., HttpBackend]
) -> None:
    """HAProxy counts what ``algo identity`` passes in comp_byp (and the response in
    comp_rsp); comp_in and comp_out stay 0."""
    b = http_backend("s1")
    proxy = start_proxy([("s1", b.port)], backend_lines=["compression algo identity"])
    for _ in range(2):
        r = fetch(proxy.port, f"/x?s=10k&{TEXT}", accept=None)
        assert r.chunked and not r.has("content-encoding")
    want = {"comp_in": 0, "comp_out": 0, "comp_byp": 20 * 1024, "comp_rsp": 2}
    deadline = time.monotonic() + 5
    while True:
        row = _stat_rows(proxy)[("be", "BACKEND")]
        got = {k: int(row[k] or 0) for k in want}
        if got == want or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert got == want


@LB_ONLY
def test_prometheus_names(start_proxy: Any, http_backend: Callable[..., HttpBackend]) -> None:
    b = http_backend("s1")
    proxy = start_proxy(
        [("s1", b.port)],
        frontend_lines=[
            "compression algo gzip",
            "http-request use-service prometheus-exporter if { path /metrics }",
        ],
    )
    r = fetch(proxy.port, f"/x?s=40k&{TEXT}")
    compressed = len(r.body)
    want = {
        'haproxy_frontend_http_comp_bytes_in_total{proxy="fe"}': 40 * 1024,
        'haproxy_frontend_http_comp_bytes_out_total{proxy="fe"}': compressed,
        'haproxy_frontend_http_comp_bytes_bypassed_total{proxy="fe"}': 0,
        'haproxy_frontend_http_comp_responses_total{proxy="fe"}': 1,
        'haproxy_backend_http_comp_bytes_in_total{proxy="be"}': 40 * 1024,
        'haproxy_backend_http_comp_responses_total{proxy="be"}': 1,
    }
    deadline = time.monotonic() + 5
    while True:
        metrics = fetch(proxy.port, "/metrics", accept=None).body.decode()
        values = {}
        for line in metrics.splitlines():
            name, _, value = line.rpartition(" ")
            if name in want:
                values[name] = int(float(value))
        if values == want or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert values == want
