"""VRRP codec: hand-built wire vectors, round trips, every drop reason, fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lb.vrrp.packet import (
    AUTH_AH,
    AUTH_NONE,
    AUTH_PASS,
    MCAST_V4,
    MCAST_V6,
    VRRP_PROTO,
    Advert,
    DropReason,
    PacketError,
    check_advert,
    decode,
    encode,
    internet_checksum,
)

# ---------------------------------------------------------------- vectors, built by hand

# VRRPv2, 192.168.1.10 -> 224.0.0.18, VRID 51, priority 100, 1 s, PASS "1111", VIP 192.168.1.100.
# Checksum over the message alone: words 2133+6401+0101+c0a8+0164+3131+3131 = 0x1aaa3,
# folded 0xaaa4, complemented 0x555b.
V2_SRC = "192.168.1.10"
V2_PASS = bytes(
    [
        0x21,  # version 2 | type 1 (ADVERTISEMENT)
        0x33,  # VRID 51
        0x64,  # priority 100
        0x01,  # count IPv4 addresses: 1
        0x01,  # auth type 1: simple text password
        0x01,  # advertisement interval: 1 s
        0x55, 0x5B,  # checksum
        0xC0, 0xA8, 0x01, 0x64,  # 192.168.1.100
        0x31, 0x31, 0x31, 0x31, 0x00, 0x00, 0x00, 0x00,  # auth data "1111", NUL-padded to 8
    ]
)  # fmt: skip
V2_PASS_ADVERT = Advert(2, 51, 100, 100, ("192.168.1.100",), AUTH_PASS, b"1111\0\0\0\0")

# VRRPv3 over IPv4, 10.0.0.1 -> 224.0.0.18, VRID 1, priority 150, 100 cs, VIP 10.0.0.100.
# Message words 3101+9601+0064+0a00+0064 = 0xd1ca. Pseudo-header (src, dst, 0|112, length 12):
# 0a00+0001+e000+0012+0070+000c = 0xea8f. Together 0x1bc59 -> 0xbc5a -> checksum 0x43a5.
# Without the pseudo-header (keepalived's v3_checksum_as_v2): ~0xd1ca = 0x2e35.
V3_SRC4 = "10.0.0.1"
V3_IPV4 = bytes(
    [
        0x31,  # version 3 | type 1
        0x01,  # VRID 1
        0x96,  # priority 150
        0x01,  # count IPvX addresses: 1
        0x00, 0x64,  # rsvd 0 | max adver int 100 centiseconds
        0x43, 0xA5,  # checksum, pseudo-header included
        0x0A, 0x00, 0x00, 0x64,  # 10.0.0.100
    ]
)  # fmt: skip
V3_IPV4_AS_V2 = V3_IPV4[:6] + bytes([0x2E, 0x35]) + V3_IPV4[8:]
V3_IPV4_ADVERT = Advert(3, 1, 150, 100, ("10.0.0.100",))

# VRRPv3 over IPv6, fe80::1 -> ff02::12, VRID 1, priority 100, 100 cs, VIP fe80::100.
# Message 3101+6401+0064+fe80+0100 = 0x194e6. Pseudo-header (src, dst, length 24, next header
# 112): fe80+0001+ff02+0012+0018+0070 = 0x1fe1d. Sum 0x39303 -> 0x9306 -> checksum 0x6cf9.
V3_SRC6 = "fe80::1"
V3_IPV6 = bytes(
    [
        0x31,  # version 3 | type 1
        0x01,  # VRID 1
        0x64,  # priority 100
        0x01,  # count: 1
        0x00, 0x64,  # rsvd 0 | max adver int 100 cs
        0x6C, 0xF9,  # checksum, pseudo-header included
        0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00,  # fe80::100
    ]
)  # fmt: skip
V3_IPV6_ADVERT = Advert(3, 1, 100, 100, ("fe80::100",))

VECTORS = [
    pytest.param(V2_PASS, V2_SRC, MCAST_V4, V2_PASS_ADVERT, False, id="v2-ipv4-pass"),
    pytest.param(V3_IPV4, V3_SRC4, MCAST_V4, V3_IPV4_ADVERT, False, id="v3-ipv4"),
    pytest.param(V3_IPV4_AS_V2, V3_SRC4, MCAST_V4, V3_IPV4_ADVERT, True, id="v3-ipv4-as-v2"),
    pytest.param(V3_IPV6, V3_SRC6, MCAST_V6, V3_IPV6_ADVERT, False, id="v3-ipv6"),
]


def test_constants() -> None:
    assert (VRRP_PROTO, MCAST_V4, MCAST_V6) == (112, "224.0.0.18", "ff02::12")


def test_internet_checksum_rfc1071_example() -> None:
    # RFC 1071 section 3: 0001 f203 f4f5 f6f7 sums to ddf2; the checksum is its complement.
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    # Odd length pads with a zero byte; a buffer holding its own checksum sums to zero.
    assert internet_checksum(b"\x01") == internet_checksum(b"\x01\x00")
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7220d")) == 0


@pytest.mark.parametrize(("wire", "src", "dst", "advert", "as_v2"), VECTORS)
def test_decode_known_vector(wire: bytes, src: str, dst: str, advert: Advert, as_v2: bool) -> None:
    assert decode(wire, src=src, dst=dst) == advert


@pytest.mark.parametrize(("wire", "src", "dst", "advert", "as_v2"), VECTORS)
def test_encode_known_vector(wire: bytes, src: str, dst: str, advert: Advert, as_v2: bool) -> None:
    assert encode(advert, src=src, dst=dst, v3_checksum_as_v2=as_v2) == wire


def test_v3_ipv4_accepts_both_checksum_forms() -> None:
    assert decode(V3_IPV4, src=V3_SRC4, dst=MCAST_V4) == V3_IPV4_ADVERT
    assert decode(V3_IPV4_AS_V2, src=V3_SRC4, dst=MCAST_V4) == V3_IPV4_ADVERT


def test_v3_ipv6_requires_pseudo_header() -> None:
    advert = V3_IPV6_ADVERT
    as_v2 = encode(advert, src=V3_SRC6, dst=MCAST_V6, v3_checksum_as_v2=True)
    assert as_v2 == V3_IPV6  # the option does nothing on IPv6
    plain = V3_IPV6[:6] + internet_checksum(V3_IPV6[:6] + b"\0\0" + V3_IPV6[8:]).to_bytes(2, "big")
    with pytest.raises(PacketError) as err:
        decode(plain + V3_IPV6[8:], src=V3_SRC6, dst=MCAST_V6)
    assert err.value.reason is DropReason.BAD_CHECKSUM


def test_v3_pseudo_header_binds_addresses() -> None:
    # The same bytes from another source do not verify: the pseudo-header covers src and dst.
    with pytest.raises(PacketError) as err:
        decode(V3_IPV4, src="10.0.0.2", dst=MCAST_V4)
    assert err.value.reason is DropReason.BAD_CHECKSUM


def test_unicast_destination_in_pseudo_header() -> None:
    advert = V3_IPV4_ADVERT
    wire = encode(advert, src=V3_SRC4, dst="10.0.0.2")
    assert decode(wire, src=V3_SRC4, dst="10.0.0.2") == advert
    with pytest.raises(PacketError):
        decode(wire, src=V3_SRC4, dst=MCAST_V4)


# ---------------------------------------------------------------- round trips

ROUND_TRIPS = [
    pytest.param(Advert(2, 1, 255, 100, ("10.1.1.1",)), "10.0.0.1", MCAST_V4, id="v2-none"),
    pytest.param(
        Advert(2, 255, 1, 25500, ("10.1.1.1", "10.1.1.2"), AUTH_PASS, b"secret12"),
        "10.0.0.1",
        MCAST_V4,
        id="v2-pass-255s",
    ),
    pytest.param(Advert(2, 7, 0, 300, ()), "10.0.0.1", MCAST_V4, id="v2-prio0-no-vip"),
    pytest.param(Advert(3, 9, 200, 1, ("10.2.2.2",)), "10.0.0.1", MCAST_V4, id="v3-ipv4-1cs"),
    pytest.param(
        Advert(3, 9, 200, 4095, ("fe80::1", "2001:db8::1")), "fe80::2", MCAST_V6, id="v3-ipv6"
    ),
    pytest.param(
        Advert(3, 200, 100, 250, tuple(f"10.3.0.{i}" for i in range(1, 21))),
        "10.0.0.1",
        "10.0.0.9",
        id="v3-unicast-20vips",
    ),
]


@pytest.mark.parametrize(("advert", "src", "dst"), ROUND_TRIPS)
@pytest.mark.parametrize("as_v2", [False, True])
def test_round_trip(advert: Advert, src: str, dst: str, as_v2: bool) -> None:
    wire = encode(advert, src=src, dst=dst, v3_checksum_as_v2=as_v2)
    got = decode(wire, src=src, dst=dst)
    expected_auth = advert.auth_data.ljust(8, b"\0") if advert.version == 2 else b""
    assert got == Advert(
        advert.version,
        advert.vrid,
        advert.priority,
        advert.advert_int_cs,
        advert.addresses,
        advert.auth_type,
        expected_auth,
    )


def test_decode_normalises_addresses() -> None:
    advert = Advert(3, 1, 100, 100, ("2001:0db8:0000::0001",))
    got = decode(encode(advert, src="fe80::1", dst=MCAST_V6), src="fe80::1", dst=MCAST_V6)
    assert got.addresses == ("2001:db8::1",)


@pytest.mark.parametrize(
    ("advert", "src"),
    [
        pytest.param(Advert(4, 1, 100, 100, ()), "10.0.0.1", id="version"),
        pytest.param(Advert(2, 1, 100, 100, ()), "fe80::1", id="v2-over-ipv6"),
        pytest.param(Advert(2, 0, 100, 100, ()), "10.0.0.1", id="vrid-0"),
        pytest.param(Advert(2, 256, 100, 100, ()), "10.0.0.1", id="vrid-256"),
        pytest.param(Advert(2, 1, 256, 100, ()), "10.0.0.1", id="priority"),
        pytest.param(Advert(2, 1, 100, 150, ()), "10.0.0.1", id="v2-fractional-interval"),
        pytest.param(Advert(2, 1, 100, 0, ()), "10.0.0.1", id="v2-zero-interval"),
        pytest.param(Advert(2, 1, 100, 25600, ()), "10.0.0.1", id="v2-interval-256s"),
        pytest.param(Advert(3, 1, 100, 4096, ()), "10.0.0.1", id="v3-interval-4096"),
        pytest.param(Advert(3, 1, 100, 100, ("fe80::1",)), "10.0.0.1", id="family"),
        pytest.param(Advert(2, 1, 100, 100, (), AUTH_AH), "10.0.0.1", id="auth-ah"),
        pytest.param(Advert(2, 1, 100, 100, (), AUTH_PASS, b"123456789"), "10.0.0.1", id="pw"),
        pytest.param(
            Advert(3, 1, 100, 100, tuple(f"10.{i // 256}.{i % 256}.1" for i in range(256))),
            "10.0.0.1",
            id="256-addresses",
        ),
    ],
)
def test_encode_refuses(advert: Advert, src: str) -> None:
    dst = MCAST_V6 if ":" in src else MCAST_V4
    with pytest.raises(ValueError):
        encode(advert, src=src, dst=dst)


def test_encode_refuses_mixed_families() -> None:
    with pytest.raises(ValueError):
        encode(V3_IPV4_ADVERT, src="10.0.0.1", dst=MCAST_V6)


# ---------------------------------------------------------------- decode drop reasons


def _v2(
    *,
    first: int = 0x21,
    vrid: int = 51,
    count: int | None = None,
    auth: int = 1,
    interval: int = 1,
    addrs: bytes = bytes([192, 168, 1, 100]),
    tail: bytes = b"1111\0\0\0\0",
    fix_checksum: bool = True,
) -> bytes:
    """A VRRPv2 packet with any field forced, checksum recomputed unless told otherwise."""
    n = len(addrs) // 4 if count is None else count
    body = struct.pack("!BBBBBBH", first, vrid, 100, n, auth, interval, 0) + addrs + tail
    if not fix_checksum:
        return body
    return body[:6] + internet_checksum(body).to_bytes(2, "big") + body[8:]


def _v3(*, vrid: int = 1, interval: int = 100, extra: bytes = b"") -> bytes:
    advert = Advert(3, 1, 150, 100, ("10.0.0.100",))
    body = bytearray(encode(advert, src=V3_SRC4, dst=MCAST_V4)[:8] + b"\x0a\x00\x00\x64" + extra)
    body[1] = vrid
    body[4:6] = interval.to_bytes(2, "big")
    body[6:8] = b"\0\0"
    return bytes(body[:6]) + internet_checksum(bytes(body)).to_bytes(2, "big") + bytes(body[8:])


DECODE_DROPS = [
    pytest.param(b"", V2_SRC, DropReason.TRUNCATED, id="empty"),
    pytest.param(V2_PASS[:7], V2_SRC, DropReason.TRUNCATED, id="short-header"),
    pytest.param(_v2(count=2), V2_SRC, DropReason.TRUNCATED, id="count-too-high"),
    pytest.param(_v2(tail=b"1111"), V2_SRC, DropReason.TRUNCATED, id="v2-auth-cut"),
    pytest.param(_v2(first=0x11), V2_SRC, DropReason.BAD_VERSION, id="version-1"),
    pytest.param(_v2(first=0x41), V2_SRC, DropReason.BAD_VERSION, id="version-4"),
    pytest.param(bytes([0x21]) + V3_IPV6[1:], V3_SRC6, DropReason.BAD_VERSION,
                 id="v2-over-ipv6"),
    pytest.param(_v2(first=0x22), V2_SRC, DropReason.BAD_TYPE, id="type-2"),
    pytest.param(_v2(first=0x20), V2_SRC, DropReason.BAD_TYPE, id="type-0"),
    pytest.param(_v2(count=0), V2_SRC, DropReason.BAD_ADDRESS_COUNT, id="count-too-low"),
    pytest.param(_v3(extra=b"\0\0\0\0"), V3_SRC4, DropReason.BAD_ADDRESS_COUNT, id="v3-extra"),
    pytest.param(_v2(fix_checksum=False), V2_SRC, DropReason.BAD_CHECKSUM, id="v2-checksum"),
    pytest.param(V3_IPV4[:-1] + b"\x65", V3_SRC4, DropReason.BAD_CHECKSUM, id="v3-flipped"),
    pytest.param(_v2(vrid=0), V2_SRC, DropReason.WRONG_VRID, id="vrid-0"),
    pytest.param(_v2(interval=0), V2_SRC, DropReason.BAD_INTERVAL, id="v2-interval-0"),
    pytest.param(_v3(interval=0xF000), V3_SRC4, DropReason.BAD_INTERVAL, id="v3-interval-0"),
]  # fmt: skip


@pytest.mark.parametrize(("wire", "src", "reason"), DECODE_DROPS)
def test_decode_drop(wire: bytes, src: str, reason: DropReason) -> None:
    dst = MCAST_V6 if ":" in src else MCAST_V4
    with pytest.raises(PacketError) as err:
        decode(wire, src=src, dst=dst)
    assert err.value.reason is reason


def test_v3_reserved_bits_ignored() -> None:
    got = decode(_v3(interval=0xF064), src=V3_SRC4, dst=MCAST_V4)
    assert got.advert_int_cs == 100


# ---------------------------------------------------------------- check_advert drop reasons

V2_CONFIG = dict(
    ttl=255,
    vrid=51,
    version=2,
    auth_type=AUTH_PASS,
    auth_pass=b"1111",
    advert_int_cs=100,
    addresses=["192.168.1.100"],
)
V3_CONFIG = dict(
    ttl=255,
    vrid=1,
    version=3,
    auth_type=AUTH_NONE,
    auth_pass=b"",
    advert_int_cs=100,
    addresses=["10.0.0.100"],
)

CHECKS = [
    pytest.param(V2_PASS_ADVERT, V2_CONFIG, {}, None, id="v2-ok"),
    pytest.param(V3_IPV4_ADVERT, V3_CONFIG, {}, None, id="v3-ok"),
    pytest.param(V2_PASS_ADVERT, V2_CONFIG, {"ttl": 254}, DropReason.BAD_TTL, id="ttl-254"),
    pytest.param(V3_IPV4_ADVERT, V3_CONFIG, {"ttl": 1}, DropReason.BAD_TTL, id="hop-limit-1"),
    pytest.param(V2_PASS_ADVERT, V2_CONFIG, {"version": 3}, DropReason.BAD_VERSION, id="v2-to-v3"),
    pytest.param(V3_IPV4_ADVERT, V3_CONFIG, {"version": 2}, DropReason.BAD_VERSION, id="v3-to-v2"),
    pytest.param(V2_PASS_ADVERT, V2_CONFIG, {"vrid": 52}, DropReason.WRONG_VRID, id="vrid"),
    pytest.param(V2_PASS_ADVERT, V2_CONFIG, {"auth_type": AUTH_NONE}, DropReason.BAD_AUTH_TYPE,
                 id="auth-pass-vs-none"),
    pytest.param(Advert(2, 51, 100, 100, ("192.168.1.100",), AUTH_AH, bytes(8)), V2_CONFIG, {},
                 DropReason.BAD_AUTH_TYPE, id="auth-ah-received"),
    pytest.param(V2_PASS_ADVERT, V2_CONFIG, {"auth_pass": b"1112"}, DropReason.AUTH_MISMATCH,
                 id="password"),
    pytest.param(V2_PASS_ADVERT, V2_CONFIG, {"auth_pass": b"1111\0\0\0\0"}, None,
                 id="password-padded"),
    pytest.param(V2_PASS_ADVERT, V2_CONFIG, {"advert_int_cs": 200}, DropReason.INTERVAL_MISMATCH,
                 id="v2-interval"),
    pytest.param(V3_IPV4_ADVERT, V3_CONFIG, {"advert_int_cs": 200}, None,
                 id="v3-interval-adopted-not-dropped"),
    pytest.param(V3_IPV4_ADVERT, V3_CONFIG, {"auth_type": AUTH_PASS, "auth_pass": b"x"}, None,
                 id="v3-ignores-auth"),
    pytest.param(V2_PASS_ADVERT, V2_CONFIG, {"addresses": ["192.168.1.101"]},
                 DropReason.ADDRESS_MISMATCH, id="address-differs"),
    pytest.param(V2_PASS_ADVERT, V2_CONFIG, {"addresses": ["192.168.1.100", "192.168.1.101"]},
                 DropReason.ADDRESS_MISMATCH, id="address-missing"),
    pytest.param(V2_PASS_ADVERT, V2_CONFIG, {"addresses": []}, DropReason.ADDRESS_MISMATCH,
                 id="address-extra"),
    pytest.param(Advert(2, 51, 255, 100, (), AUTH_PASS, b"1111"), V2_CONFIG, {},
                 DropReason.ADDRESS_MISMATCH, id="address-owner-no-exception"),
    pytest.param(V2_PASS_ADVERT, V2_CONFIG, {"addresses": None}, None, id="address-skipped"),
    pytest.param(V3_IPV6_ADVERT, V3_CONFIG, {"addresses": ["fe80:0::0100"]}, None,
                 id="address-normalised"),
    pytest.param(Advert(3, 1, 100, 100, ("10.0.0.2", "10.0.0.1")), V3_CONFIG,
                 {"addresses": ["10.0.0.1", "10.0.0.2"]}, None, id="address-order-free"),
]  # fmt: skip


@pytest.mark.parametrize(("advert", "config", "change", "reason"), CHECKS)
def test_check_advert(
    advert: Advert, config: dict[str, object], change: dict[str, object], reason: DropReason | None
) -> None:
    assert check_advert(advert, **{**config, **change}) is reason  # type: ignore[arg-type]


def test_check_advert_refuses_unsupported_config() -> None:
    with pytest.raises(ValueError):
        check_advert(V2_PASS_ADVERT, **{**V2_CONFIG, "auth_type": AUTH_AH})  # type: ignore[arg-type]


def test_every_drop_reason_is_exercised() -> None:
    seen = {p.values[2] for p in DECODE_DROPS} | {p.values[3] for p in CHECKS}
    assert set(DropReason) <= seen


# ---------------------------------------------------------------- robustness

ALL_VALID = [
    (V2_PASS, V2_SRC, MCAST_V4),
    (V3_IPV4, V3_SRC4, MCAST_V4),
    (V3_IPV6, V3_SRC6, MCAST_V6),
]


@pytest.mark.parametrize(("wire", "src", "dst"), ALL_VALID)
def test_every_truncation_is_a_packet_error(wire: bytes, src: str, dst: str) -> None:
    for n in range(len(wire)):
        with pytest.raises(PacketError):
            decode(wire[:n], src=src, dst=dst)


@given(
    data=st.binary(max_size=120),
    src_dst=st.sampled_from([(V2_SRC, MCAST_V4), (V3_SRC6, MCAST_V6), (V3_SRC4, "10.0.0.2")]),
)
def test_fuzz_random_bytes(data: bytes, src_dst: tuple[str, str]) -> None:
    src, dst = src_dst
    try:
        got = decode(data, src=src, dst=dst)
    except PacketError:
        return
    assert isinstance(got, Advert)


@given(
    base=st.sampled_from(ALL_VALID),
    edits=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 255)), max_size=4),
    cut=st.integers(0, 48),
    extra=st.binary(max_size=8),
)
def test_fuzz_mutated_packets(
    base: tuple[bytes, str, str], edits: list[tuple[int, int]], cut: int, extra: bytes
) -> None:
    wire, src, dst = base
    buf = bytearray(wire[:cut] + extra)
    for pos, value in edits:
        if pos < len(buf):
            buf[pos] = value
    try:
        got = decode(bytes(buf), src=src, dst=dst)
    except PacketError:
        return
    # Whatever decodes is a well-formed advert that encodes back to itself.
    assert got.version in (2, 3) and 1 <= got.vrid <= 255 and got.advert_int_cs > 0
    if got.auth_type in (AUTH_NONE, AUTH_PASS) and (
        got.version == 3 or got.auth_type or not any(got.auth_data)
    ):
        assert decode(encode(got, src=src, dst=dst), src=src, dst=dst) == got


@given(
    version=st.sampled_from([2, 3]),
    vrid=st.integers(1, 255),
    priority=st.integers(0, 255),
    seconds=st.integers(1, 40),
    n=st.integers(0, 8),
    password=st.binary(max_size=8),
)
def test_fuzz_round_trip(
    version: int, vrid: int, priority: int, seconds: int, n: int, password: bytes
) -> None:
    addrs = tuple(f"10.9.{i}.1" for i in range(n))
    auth = (AUTH_PASS, password) if version == 2 else (AUTH_NONE, b"")
    advert = Advert(version, vrid, priority, seconds * 100, addrs, *auth)
    got = decode(encode(advert, src="10.0.0.1", dst=MCAST_V4), src="10.0.0.1", dst=MCAST_V4)
    assert got.addresses == addrs
    assert (got.version, got.vrid, got.priority, got.advert_int_cs) == (
        version,
        vrid,
        priority,
        seconds * 100,
    )
    assert got.auth_data.rstrip(b"\0") == advert.auth_data.rstrip(b"\0")
