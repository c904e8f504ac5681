"""The layer-4 content fetches' pure parts: the ClientHello parser (fed a real one made by
Python's ssl, and garbage: it never raises), the HTTP request-line sniffer, and the
fetches on a ContentTxn (waiting while bytes may still come)."""

from __future__ import annotations

import ssl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lb.acl.payload import NEED_MORE, ContentTxn, Hello, hello_type, parse_client_hello, proto_http
from lb.acl.runtime import Runtime


def client_hello(sni: str | None, alpn: list[str] | None = None) -> bytes:
    """The first flight of a Python TLS client (in memory, nothing sent anywhere)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def test_a_real_client_hello() -> None:
    data = client_hello("a.test", ["h2", "http/1.1"])
    assert hello_type(data) == 1
    hello = parse_client_hello(data)
    assert isinstance(hello, Hello)
    assert hello.sni == b"a.test"
    assert hello.alpn == [b"h2", b"http/1.1"]
    assert hello.version == 0x30003  # TLS 1.2's legacy_version, also for TLS 1.3


def test_no_sni() -> None:
    hello = parse_client_hello(client_hello(None))
    assert isinstance(hello, Hello) and hello.sni is None and hello.alpn == []


def test_every_prefix_asks_for_more() -> None:
    data = client_hello("b.test")
    for n in range(len(data)):
        assert parse_client_hello(data[:n]) == NEED_MORE, n


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"GET / HTTP/1.1\r\n", None),
        (b"\x16\x03\x01\x00\x05\x02\x00\x00\x01\x00", None),  # a ServerHello: not a client's
        (b"\x16\x02", None),  # not TLS (record version 2.x)
        (b"\x17\x03\x03\x00\x10", None),  # application data
    ],
)
def test_not_a_client_hello(data: bytes, expected: object) -> None:
    assert parse_client_hello(data) is expected


@given(st.binary(max_size=600))
def test_garbage_never_raises(data: bytes) -> None:
    parse_client_hello(data)
    hello_type(data)
    proto_http(data)


@given(st.integers(min_value=9, max_value=400), st.binary(min_size=1, max_size=8))
def test_a_corrupted_hello_never_raises(at: int, junk: bytes) -> None:
    data = bytearray(client_hello("a.test", ["h2"]))
    at = at % len(data)
    data[at : at + len(junk)] = junk
    parse_client_hello(bytes(data))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", NEED_MORE),
        (b"GE", NEED_MORE),
        (b"GET /x HTTP/1.", NEED_MORE),
        (b"GET /x HTTP/1.1\r\n", True),
        (b"POST http://h/ HTTP/1.0\n", True),
        (b"GET  /x", False),
        (b"\x16\x03\x01", False),
        (b"hello world\r\n", False),
    ],
)
def test_proto_http(data: bytes, expected: object) -> None:
    assert proto_http(data) == expected


# --------------------------------------------------------------------------- the fetches


def fetch(
    name: str, data: bytes, final: bool, args: list[object] | None = None
) -> tuple[object, bool]:
    from lb.acl.payload import FETCH_ROWS

    build = FETCH_ROWS[name][4]
    one, _many = build(args or [], None)  # type: ignore[arg-type]
    txn = ContentTxn(b"", b"", "1.1", [])
    txn.payload, txn.final = data, final
    runtime: Runtime = None  # type: ignore[assignment]
    return one(txn, runtime), txn.need_more


HELLO = client_hello("a.test", ["h2"])


@pytest.mark.parametrize(
    ("name", "data", "final", "args", "expected"),
    [
        ("req.len", b"", False, None, (0, True)),  # "not false while it may change"
        ("req.len", b"", True, None, (0, False)),
        ("req.len", b"abc", False, None, (3, False)),
        ("req.payload", b"abcdef", False, [1, 3], (b"bcd", False)),
        ("req.payload", b"ab", False, [1, 3], (None, True)),
        ("req.payload", b"ab", True, [1, 3], (None, False)),
        ("req.payload", b"abcdef", True, [2, 0], (b"cdef", False)),
        ("req.payload_lv", b"\x00\x03abcd", True, [0, 2], (b"abc", False)),
        ("req.payload_lv", b"\x00\x05abcd", False, [0, 2], (None, True)),
        ("req.payload_lv", b"\x02xyab", True, [0, 1, 3], (b"ab", False)),  # offset2: from the start
        ("req_ssl_hello_type", HELLO, False, None, (1, False)),
        ("req_ssl_hello_type", HELLO[:3], False, None, (None, True)),
        ("req_ssl_hello_type", b"GET / HTTP/1.0\r\n", False, None, (None, False)),
        ("req_ssl_sni", HELLO, False, None, (b"a.test", False)),
        ("req_ssl_sni", HELLO[:50], False, None, (None, True)),
        ("req_ssl_sni", HELLO[:50], True, None, (None, False)),
        ("req.ssl_alpn", HELLO, True, None, (b"h2", False)),
        ("req.ssl_ver", HELLO, True, None, (0x30003, False)),
        ("req.proto_http", b"GET / HTTP/1.1\r\n", False, None, (True, False)),
        ("req.proto_http", b"GET / HT", False, None, (False, True)),
        ("req.proto_http", b"GET / HT", True, None, (False, False)),
    ],
)
def test_fetches(
    name: str, data: bytes, final: bool, args: list[object] | None, expected: tuple[object, bool]
) -> None:
    assert fetch(name, data, final, args) == expected
