"""The PROXY protocol codec (lb.worker.proxy_protocol): v1 and v2, parse and build."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lb.worker.proxy_protocol import (
    V1_MAX,
    V2_SIGNATURE,
    ProxyHeader,
    ProxyHeaderError,
    build,
    build_v1,
    build_v2,
    parse,
)

SIG = V2_SIGNATURE


def v2(ver_cmd: int, fam: int, body: bytes, length: int | None = None) -> bytes:
    return SIG + struct.pack("!BBH", ver_cmd, fam, len(body) if length is None else length) + body


V4_BODY = bytes([192, 0, 2, 7, 198, 51, 100, 1]) + struct.pack("!HH", 40001, 443)
V6_BODY = (
    bytes.fromhex("20010db8000000000000000000000001")
    + bytes.fromhex("20010db8000000000000000000000002")
    + struct.pack("!HH", 5000, 80)
)

# --------------------------------------------------------------------------- valid headers

VALID = [
    (
        b"PROXY TCP4 192.0.2.7 198.51.100.1 40001 443\r\n",
        ProxyHeader(1, False, "TCP4", ("192.0.2.7", 40001), ("198.51.100.1", 443)),
    ),
    (
        b"PROXY TCP6 2001:db8::1 2001:db8::2 5000 80\r\n",
        ProxyHeader(1, False, "TCP6", ("2001:db8::1", 5000), ("2001:db8::2", 80)),
    ),
    (
        b"PROXY TCP6 ::ffff:10.0.0.1 ::1 65535 0\r\n",
        ProxyHeader(1, False, "TCP6", ("::ffff:10.0.0.1", 65535), ("::1", 0)),
    ),
    (b"PROXY UNKNOWN\r\n", ProxyHeader(1, False, "UNKNOWN", None, None)),
    (
        b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
        ProxyHeader(1, False, "UNKNOWN", None, None),
    ),
    (
        v2(0x21, 0x11, V4_BODY),
        ProxyHeader(2, False, "TCP4", ("192.0.2.7", 40001), ("198.51.100.1", 443)),
    ),
    (
        v2(0x21, 0x21, V6_BODY),
        ProxyHeader(2, False, "TCP6", ("2001:db8::1", 5000), ("2001:db8::2", 80)),
    ),
    # TLVs after the addresses: skipped (a NOOP of 3 bytes, an ALPN of 2)
    (
        v2(0x21, 0x11, V4_BODY + b"\x04\x00\x03abc" + b"\x01\x00\x02h2"),
        ProxyHeader(2, False, "TCP4", ("192.0.2.7", 40001), ("198.51.100.1", 443)),
    ),
    # LOCAL: the balancer's own connection, whatever follows
    (v2(0x20, 0x00, b""), ProxyHeader(2, True, "UNKNOWN", None, None)),
    (v2(0x20, 0x11, V4_BODY), ProxyHeader(2, True, "UNKNOWN", None, None)),
    # PROXY with families that carry no IP client: the connection's own addresses
    (v2(0x21, 0x00, b""), ProxyHeader(2, False, "UNKNOWN", None, None)),
    (v2(0x21, 0x00, b"anything"), ProxyHeader(2, False, "UNKNOWN", None, None)),
    (
        v2(0x21, 0x31, b"/a".ljust(108, b"\0") + b"/b".ljust(108, b"\0")),
        ProxyHeader(2, False, "UNKNOWN", None, None),
    ),
    (v2(0x21, 0x12, V4_BODY), ProxyHeader(2, False, "UNKNOWN", None, None)),  # UDP
]


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_valid_headers_parse_and_say_their_length(raw: bytes, expected: ProxyHeader) -> None:
    trailing = b"GET / HTTP/1.1\r\n\r\n"
    assert parse(raw + trailing) == (expected, len(raw))
    assert parse(raw) == (expected, len(raw))


@pytest.mark.parametrize(("raw", "expected"), VALID)
def test_every_proper_prefix_asks_for_more(raw: bytes, expected: ProxyHeader) -> None:
    for n in range(len(raw)):
        assert parse(raw[:n]) is None, raw[:n]


# --------------------------------------------------------------------------- invalid headers

INVALID = [
    b"GET / HTTP/1.1\r\n\r\n",  # no header at all
    b"\r\n\r\n\x00\r\nQUIT\r",  # almost the v2 signature
    b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",  # case matters
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",  # LF alone
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",  # a field missing
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",  # one too many
    b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",  # two spaces
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",  # trailing space
    b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
    b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
    b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
    b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",  # leading zero (octal-looking)
    b"PROXY TCP4 ::1 ::1 1 2\r\n",  # IPv6 under TCP4
    b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",  # IPv4 under TCP6
    b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",  # scope ids are not addresses here
    b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 \xd9\xa1 2\r\n",  # a non-ASCII digit
    b"PROXY \r\n",
    b"PROXY " + b"A" * (V1_MAX - 6),  # 107 bytes and no CRLF
    b"PROXY UNKNOWN " + b"x" * (V1_MAX - 15) + b"\r\n",  # 108 bytes with the CRLF
    v2(0x11, 0x11, V4_BODY),  # version 1 in a v2 header
    v2(0x31, 0x11, V4_BODY),  # version 3
    v2(0x22, 0x11, V4_BODY),  # command 2
    v2(0x21, 0x41, V4_BODY),  # family 4
    v2(0x21, 0x13, V4_BODY),  # protocol 3
    v2(0x21, 0x11, V4_BODY[:11]),  # IPv4 block too short
    v2(0x21, 0x21, V4_BODY),  # IPv6 family with an IPv4-sized block
    v2(0x21, 0x31, b"\0" * 100),  # unix family, block too short
    v2(0x21, 0x11, V4_BODY + b"\x04\x00"),  # truncated TLV
    v2(0x21, 0x11, V4_BODY + b"\x04\x00\x05abc"),  # TLV longer than the header
]


@pytest.mark.parametrize("raw", INVALID)
def test_invalid_headers_are_refused(raw: bytes) -> None:
    with pytest.raises(ProxyHeaderError):
        parse(raw + b"\r\nmore bytes after\r\n")


def test_v1_at_the_limit_is_accepted() -> None:
    line = b"PROXY UNKNOWN " + b"x" * (V1_MAX - 16) + b"\r\n"
    assert len(line) == V1_MAX
    assert parse(line) == (ProxyHeader(1, False, "UNKNOWN", None, None), V1_MAX)


def test_v2_up_to_the_16_bit_length() -> None:
    tlv = b"\x04" + struct.pack("!H", 0xFFFF - 12 - 3) + b"\0" * (0xFFFF - 12 - 3)
    raw = v2(0x21, 0x11, V4_BODY + tlv)
    assert len(raw) == 16 + 0xFFFF
    header, used = parse(raw + b"x") or (None, 0)
    assert used == len(raw) and header is not None and header.source == ("192.0.2.7", 40001)
    assert parse(raw[:-1]) is None


# --------------------------------------------------------------------------- building

BUILT = [
    (
        ("192.0.2.7", 40001),
        ("198.51.100.1", 443),
        b"PROXY TCP4 192.0.2.7 198.51.100.1 40001 443\r\n",
    ),
    (("2001:db8::1", 5000), ("2001:db8::2", 80), b"PROXY TCP6 2001:db8::1 2001:db8::2 5000 80\r\n"),
    # a v4 client on a v6 listener: both in IPv6, the v4 one mapped
    (("192.0.2.7", 1), ("::1", 2), b"PROXY TCP6 ::ffff:192.0.2.7 ::1 1 2\r\n"),
    (None, ("::1", 2), b"PROXY UNKNOWN\r\n"),
    (("/run/sock", 0), ("::1", 2), b"PROXY UNKNOWN\r\n"),
]


@pytest.mark.parametrize(("src", "dst", "line"), BUILT)
def test_build_v1(src: tuple[str, int] | None, dst: tuple[str, int], line: bytes) -> None:
    assert build_v1(src, dst) == line
    assert build(1, src, dst) == line


def test_build_v2_forms() -> None:
    assert build_v2(("192.0.2.7", 40001), ("198.51.100.1", 443)) == v2(0x21, 0x11, V4_BODY)
    assert build_v2(("2001:db8::1", 5000), ("2001:db8::2", 80)) == v2(0x21, 0x21, V6_BODY)
    assert build(2, ("192.0.2.7", 40001), ("198.51.100.1", 443)) == v2(0x21, 0x11, V4_BODY)
    assert build_v2(None, None, local=True) == v2(0x20, 0x00, b"")
    assert build_v2(None, ("::1", 1)) == v2(0x21, 0x00, b"")


ips_v4 = st.ip_addresses(v=4).map(str)
ips_v6 = st.ip_addresses(v=6).map(str)
ports = st.integers(0, 65535)


@given(
    st.one_of(
        st.tuples(ips_v4, ports, ips_v4, ports),
        st.tuples(ips_v6, ports, ips_v6, ports),
    ),
    st.sampled_from([1, 2]),
    st.binary(max_size=40),
)
def test_round_trip(addrs: tuple[str, int, str, int], version: int, rest: bytes) -> None:
    s, sp, d, dp = addrs
    raw = build(version, (s, sp), (d, dp))
    header, used = parse(raw + rest) or (None, 0)
    assert used == len(raw)
    assert header is not None and header.version == version
    # the same addresses; their text may differ (an IPv4-mapped IPv6 address reads back
    # as ::ffff:a.b.c.d whatever form it was written in)
    got = [(ipaddress.ip_address(a), p) for a, p in (header.source, header.destination)]
    assert got == [(ipaddress.ip_address(s), sp), (ipaddress.ip_address(d), dp)]


# --------------------------------------------------------------------------- fuzzing


def _mutations() -> st.SearchStrategy[bytes]:
    seeds = [raw for raw, _ in VALID] + INVALID
    return st.tuples(st.sampled_from(seeds), st.binary(max_size=8), st.integers(0, 120)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
    )


@settings(max_examples=1500)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.binary(max_size=120).map(lambda b: b"PROXY " + b),
        st.binary(max_size=120).map(lambda b: SIG + b),
        _mutations(),
    )
)
def test_parser_raises_only_its_own_error(data: bytes) -> None:
    try:
        result = parse(data)
    except ProxyHeaderError:
        return
    if result is not None:
        header, used = result
        assert 0 < used <= len(data)
        assert header.version in (1, 2)
        if header.source is not None:
            assert header.family in ("TCP4", "TCP6")
            assert 0 <= header.source[1] <= 65535 and 0 <= header.destination[1] <= 65535  # type: ignore[index]
