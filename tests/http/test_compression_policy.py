"""lb.worker.http.compression without sockets: negotiation, the response rules, header
rewriting, and the streaming compressors (each drain decodes to everything fed so far)."""

from __future__ import annotations

import zlib

import brotli
import pytest

from lb.worker.http.compression import (
    MIN_SIZE,
    CompressionPolicy,
    Compressor,
    compressed_headers,
    without_accept_encoding,
)

MOZ4 = "Mozilla/4.0 (compatible; MSIE {v}; Windows NT 5.1{sp})"


# (configured algos, Accept-Encoding headers, User-Agent, chosen)
CHOOSE: list[tuple[str, list[str], str | None, str]] = [
    ("gzip", [], None, ""),
    ("gzip", ["gzip"], None, "gzip"),
    ("gzip", ["GZip"], None, "gzip"),
    ("gzip", ["gzip;q=0"], None, ""),
    ("gzip", ["gzip; q=0.000"], None, ""),
    ("gzip", ["gzip;q=bogus"], None, ""),
    ("gzip", ["gzip;q=0.001"], None, "gzip"),
    ("gzip", ["gzip;level=1;q=0"], None, ""),
    ("gzip", ["deflate", "gzip"], None, "gzip"),  # several header lines
    ("gzip deflate", ["deflate, gzip"], None, "deflate"),
    ("gzip deflate", ["deflate;q=0.5, gzip"], None, "gzip"),
    ("gzip deflate", ["gzip;q=0.5, deflate;q=0.5"], None, "gzip"),  # a tie: the client's first
    ("gzip deflate", ["*"], None, "deflate"),  # HAProxy's list: the last configured first
    ("gzip deflate", ["*;q=0.1, gzip;q=0.2"], None, "gzip"),
    ("gzip deflate", ["deflate;q=0, *"], None, "gzip"),  # RFC: * is not deflate
    ("gzip", ["gzip;q=0, *"], None, ""),
    ("gzip raw-deflate", ["deflate"], None, "raw-deflate"),
    ("br gzip", ["br, gzip"], None, "br"),
    ("gzip identity", ["br"], None, "identity"),
    ("gzip identity", [], None, "identity"),  # identity needs no header
    ("identity gzip", ["gzip"], None, "gzip"),
    ("gzip", ["gzip"], MOZ4.format(v="5.5", sp=""), ""),  # old agents: never
    ("gzip identity", ["gzip"], "Mozilla/4.0", ""),
    ("gzip", ["gzip"], MOZ4.format(v="6.0", sp=""), ""),
    ("gzip", ["gzip"], MOZ4.format(v="6.0", sp="; SV1"), "gzip"),  # XP SP2
    ("gzip", ["gzip"], MOZ4.format(v="7.0", sp=""), "gzip"),
    ("gzip", ["gzip"], "Mozilla/5.0 (X11; Linux x86_64)", "gzip"),
]


@pytest.mark.parametrize(("algos", "accept", "agent", "chosen"), CHOOSE)
def test_choose(algos: str, accept: list[str], agent: str | None, chosen: str) -> None:
    policy = CompressionPolicy(algos.split(), [], offload=False)
    headers = [(b"Host", b"x")] + [(b"Accept-Encoding", a.encode()) for a in accept]
    if agent is not None:
        headers.append((b"User-Agent", agent.encode()))
    assert policy.choose(headers) == chosen


BIG = MIN_SIZE
TEXT = [(b"Content-Type", b"text/plain")]

H = list[tuple[bytes, bytes]]


def rule(
    id: str,
    ok: bool,
    headers: H = TEXT,
    types: str = "",
    method: bytes = b"GET",
    req_v: str = "1.1",
    status: int = 200,
    resp_v: str = "1.1",
    framed: bool = True,
    length: int | None = BIG,
) -> object:
    return pytest.param(method, req_v, status, resp_v, framed, length, headers, types, ok, id=id)


RULES = [
    rule("plain", True),
    rule("chunked", True, length=None),
    rule("no-type-no-list", True, headers=[]),
    rule("201", True, method=b"POST", status=201),
    rule("203", True, status=203),
    rule("204", False, status=204),
    rule("206", False, status=206),
    rule("404", False, status=404),
    rule("head", False, method=b"HEAD"),
    rule("http10-request", False, req_v="1.0"),
    rule("http10-response", False, resp_v="1.0"),
    rule("close-delimited", False, framed=False, length=None),
    rule("small", False, length=BIG - 1),
    rule("encoded", False, headers=[*TEXT, (b"Content-Encoding", b"br")]),
    rule("no-transform", False, headers=[(b"cache-control", b"max-age=1, No-Transform")]),
    rule("cache-control", True, headers=[(b"cache-control", b"max-age=1")]),
    rule("multipart", False, headers=[(b"Content-Type", b"Multipart/form-data")]),
    rule("etag-strong", True, headers=[(b"ETag", b'"a"')]),
    rule("etag-weak", True, headers=[(b"ETag", b'W/"a"')]),
    rule("etag-invalid", False, headers=[(b"ETag", b"a")]),
    rule("etag-twice", False, headers=[(b"ETag", b'"a"'), (b"etag", b'"a"')]),
    rule("type-listed", True, types="text/html text/plain"),
    rule("type-params", True, [(b"content-type", b"TEXT/PLAIN; charset=utf-8")], "text/plain"),
    rule("type-prefix", True, types="text/"),
    rule("type-unlisted", False, types="text/html"),
    rule("type-missing", False, headers=[], types="text/html"),
]


@pytest.mark.parametrize(
    ("method", "req_v", "status", "resp_v", "framed", "length", "headers", "types", "ok"), RULES
)
def test_compressible(
    method: bytes,
    req_v: str,
    status: int,
    resp_v: str,
    framed: bool,
    length: int | None,
    headers: list[tuple[bytes, bytes]],
    types: str,
    ok: bool,
) -> None:
    policy = CompressionPolicy(["gzip"], types.split(), offload=False)
    assert policy.compressible(method, req_v, status, resp_v, framed, length, headers) is ok


@pytest.mark.parametrize(
    ("headers", "algo", "expected"),
    [
        ([], "gzip", [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]),
        ([], "raw-deflate", [(b"content-encoding", b"deflate"), (b"vary", b"Accept-Encoding")]),
        ([], "identity", [(b"vary", b"Accept-Encoding")]),
        (
            [(b"ETag", b'"x"'), (b"Vary", b"Origin")],
            "br",
            [
                (b"ETag", b'W/"x"'),
                (b"Vary", b"Origin"),
                (b"content-encoding", b"br"),
                (b"vary", b"Accept-Encoding"),
            ],
        ),
        (
            [(b"etag", b'W/"x"'), (b"vary", b"origin, accept-encoding")],
            "gzip",
            [
                (b"etag", b'W/"x"'),
                (b"vary", b"origin, accept-encoding"),
                (b"content-encoding", b"gzip"),
            ],
        ),
        ([(b"Vary", b"*")], "gzip", [(b"Vary", b"*"), (b"content-encoding", b"gzip")]),
    ],
)
def test_compressed_headers(
    headers: list[tuple[bytes, bytes]], algo: str, expected: list[tuple[bytes, bytes]]
) -> None:
    assert compressed_headers(headers, algo) == expected


def test_without_accept_encoding() -> None:
    headers = [(b"Host", b"x"), (b"Accept-Encoding", b"gzip"), (b"accept-encoding", b"br")]
    assert without_accept_encoding(headers) == [(b"Host", b"x")]


def _decoder(algo: str):  # type: ignore[no-untyped-def]
    if algo == "br":
        return brotli.Decompressor().process
    wbits = {"gzip": 31, "deflate": 15, "raw-deflate": -15}[algo]
    return zlib.decompressobj(wbits).decompress


@pytest.mark.parametrize("algo", ["gzip", "deflate", "raw-deflate", "br", "identity"])
def test_every_drain_decodes_to_all_that_was_fed(algo: str) -> None:
    """A flush per server read: the client can decode each event as it arrives."""
    comp = Compressor(algo)
    decode = _decoder(algo) if algo != "identity" else bytes
    fed = got = b""
    for i in range(20):
        piece = b"event %d: " % i + b"data " * (i * 37)
        comp.feed(piece[: len(piece) // 2])
        comp.feed(piece[len(piece) // 2 :])
        fed += piece
        got += decode(comp.drain())
        assert got == fed
    assert comp.drain() == b""  # nothing fed: nothing to flush
    got += decode(comp.finish())
    assert got == fed
    assert comp.fed == len(fed)
