"""Entry layouts and key fingerprints (pure)."""

from __future__ import annotations

import ipaddress

import pytest

from lb.sticktable import keys
from lb.sticktable.layout import ENTRY_HEAD_WORDS, HEADER_WORDS, TableLayout, capacity_for


@pytest.mark.parametrize(
    ("key_type", "length", "store", "key_words", "offsets", "entry_words"),
    [
        ("ip", 0, [], 1, {}, 4),
        # HAProxy's data order, whatever the order written; rates take two words
        (
            "ip",
            0,
            [("http_req_rate", 10_000), ("conn_cur", 0), ("gpc0", 0)],
            1,
            {"gpc0": 4, "conn_cur": 5, "http_req_rate": 6},
            8,
        ),
        ("ipv6", 0, [("server_id", 0)], 2, {"server_id": 5}, 6),
        ("integer", 0, [("conn_cnt", 0)], 1, {"conn_cnt": 4}, 5),
        ("string", 0, [("gpt0", 0)], 4, {"gpt0": 7}, 8),  # default len 32
        ("string", 9, [("gpt0", 0)], 2, {"gpt0": 5}, 6),
    ],
)
def test_layout(
    key_type: str,
    length: int,
    store: list[tuple[str, int]],
    key_words: int,
    offsets: dict[str, int],
    entry_words: int,
) -> None:
    lay = TableLayout.build(key_type, length, 100, store, 30_000)
    assert lay.key_words == key_words
    assert lay.offsets == offsets
    assert lay.entry_words == entry_words
    assert min(offsets.values(), default=ENTRY_HEAD_WORDS + key_words) >= (
        ENTRY_HEAD_WORDS + key_words
    )
    assert lay.capacity == 256
    assert lay.total_words == HEADER_WORDS + 256 * entry_words


@pytest.mark.parametrize(("size", "cap"), [(1, 16), (8, 16), (9, 32), (100, 256), (102400, 262144)])
def test_capacity_keeps_load_at_most_half(size: int, cap: int) -> None:
    assert capacity_for(size) == cap


def test_ip_fingerprint_is_the_address() -> None:
    fp, data = keys.ip_key(ipaddress.ip_address("127.0.0.2"))  # type: ignore[misc]
    assert fp == (1 << 40) | 0x7F000002 and data == bytes([127, 0, 0, 2])
    # an IPv4-mapped IPv6 client is the same IPv4 key; another IPv6 address is no key
    assert keys.ip_key(ipaddress.ip_address("::ffff:127.0.0.2")) == (fp, data)
    assert keys.ip_key(ipaddress.ip_address("::1")) is None
    assert keys.ip_key(b"127.0.0.2") == (fp, data)
    assert keys.ip_key(b"nope") is None


def test_fingerprints_are_stable_and_never_reserved() -> None:
    # fixed values: the same in every process and every run (not Python's hash())
    assert keys.string_key_of(32)(b"alice")[0] == keys.string_key_of(32)(b"alice")[0]  # type: ignore[index]
    known = keys.string_key_of(32)(b"alice")
    assert known is not None and known[0] == -8513398901633652147
    seen = set()
    for i in range(2000):
        for key in (
            keys.string_key_of(8)(b"k%d" % i),
            keys.integer_key(i - 1000),
            keys.ipv6_key(ipaddress.ip_address(f"2001:db8::{i:x}")),
            keys.ip_key(ipaddress.ip_address(i)),
        ):
            assert key is not None
            assert key[0] not in (keys.EMPTY, keys.DELETED, keys.BUSY)
            assert -(1 << 63) <= key[0] < (1 << 63)
            seen.add(key[0])
    assert len(seen) == 8000


@pytest.mark.parametrize(
    ("key_type", "length", "value", "shown"),
    [
        ("ip", 0, ipaddress.ip_address("10.1.2.3"), "10.1.2.3"),
        ("ipv6", 0, ipaddress.ip_address("2001:db8::1"), "2001:db8::1"),
        ("ipv6", 0, ipaddress.ip_address("10.1.2.3"), "::ffff:10.1.2.3"),
        ("integer", 0, -42, "-42"),
        ("integer", 0, b"77", "77"),
        ("string", 8, b"alicealicealice", "aliceali"),  # cut at len, as HAProxy
    ],
)
def test_key_bytes_round_trip(key_type: str, length: int, value: object, shown: str) -> None:
    key = keys.key_function(key_type, length)(value)  # type: ignore[arg-type]
    assert key is not None
    assert keys.show_key(key_type, key[1]) == shown
    assert keys.parse_key(key_type, length, shown) == (
        keys.key_function(key_type, length)(value) if key_type != "string" else key  # type: ignore[arg-type]
    )
