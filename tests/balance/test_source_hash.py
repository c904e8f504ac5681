"""``balance source`` keys HAProxy's way: the address's 32-bit words XORed, then only the
avalanche modifier (never the hash-type function); map-based is that value modulo the total
weight over HAProxy's weighted table. Expected servers below were read from HAProxy 2.6."""

from __future__ import annotations

import math
import socket

import pytest

from lb.balance.factory import make_balancer
from lb.balance.hashes import avalanche, fold_address
from lb.balance.maptable import haproxy_map
from lb.balance.view import PickKey, ServerView


def v4(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET, text)


def v6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


@pytest.mark.parametrize(
    ("address", "folded"),
    [
        (v4("10.0.0.1"), 0x0A000001),
        (v4("255.255.255.255"), 0xFFFFFFFF),
        (v6("::1"), 0x00000001),
        (v6("2001:db8::1"), 0x20010DB8 ^ 1),
        (v6("2001:db8:0:2::7"), 0x20010DB8 ^ 2 ^ 7),
        (v6("::ffff:10.0.0.1"), 0x0000FFFF ^ 0x0A000001),  # not like 10.0.0.1
        (b"\x01\x02\x03\x04\x05", 0x01020304),  # a partial trailing word is ignored
    ],
)
def test_fold_address(address: bytes, folded: int) -> None:
    assert fold_address(address) == folded


@pytest.mark.parametrize(
    ("weights", "table"),
    [
        ([1], []),  # equal weights: MapTable's 0..n-1 is equivalent
        ([1, 1], []),
    ],
)
def test_haproxy_map(weights: list[int], table: list[int]) -> None:
    assert haproxy_map(weights) == table


@pytest.mark.parametrize("weights", [[2, 4], [3, 1], [1, 2, 3, 1], [7, 11, 13]])
def test_haproxy_map_counts(weights: list[int]) -> None:
    """16 entries per unit of weight over the gcd; the first server takes the first entry."""
    table = haproxy_map(weights)
    g = math.gcd(*weights)
    assert [table.count(i) for i in range(len(weights))] == [16 * w // g for w in weights]
    assert table[0] == 0
    assert haproxy_map([w * 3 for w in weights]) == table


WEIGHTS = (1, 2, 3, 1)


def pool() -> list[ServerView]:
    return [ServerView(i, f"s{i + 1}", w) for i, w in enumerate(WEIGHTS)]


# (client, server) as HAProxy 2.6 picked them for servers s1..s4 of weights 1 2 3 1.
HAPROXY_PICKS = [
    ("127.0.0.1", "s3"),
    ("127.0.0.2", "s2"),
    ("127.0.0.3", "s3"),
    ("127.0.0.4", "s3"),
    ("127.0.0.5", "s4"),
    ("127.0.0.6", "s1"),
    ("127.1.2.3", "s1"),
    ("127.200.0.9", "s3"),
    ("127.255.255.254", "s1"),
]


@pytest.mark.parametrize("function", ["", "sdbm", "djb2", "wt6", "crc32"])
@pytest.mark.parametrize(("client", "server"), HAPROXY_PICKS)
def test_map_based_source_like_haproxy(client: str, server: str, function: str) -> None:
    hash_type = ["map-based", function] if function else []
    balancer = make_balancer("source", [], hash_type, pool())
    assert pool()[balancer.pick(PickKey(source=v4(client)))].name == server  # type: ignore[index]


@pytest.mark.parametrize("consistent", [False, True])
def test_the_function_does_not_matter_only_avalanche(consistent: bool) -> None:
    method = "consistent" if consistent else "map-based"
    keys = [PickKey(source=v4(f"10.0.{i // 256}.{i % 256}")) for i in range(500)]

    def picks(*words: str) -> list[int | None]:
        balancer = make_balancer("source", [], [method, *words], pool())
        return [balancer.pick(k) for k in keys]

    base = picks("sdbm")
    assert picks("djb2") == picks("wt6") == picks("crc32") == base
    with_avalanche = picks("sdbm", "avalanche")
    assert picks("crc32", "avalanche") == with_avalanche
    assert with_avalanche != base


def test_map_based_is_the_folded_address_modulo_the_total_weight() -> None:
    balancer = make_balancer("source", [], ["map-based", "djb2", "avalanche"], pool())
    table = haproxy_map(list(WEIGHTS))
    for client in ("192.0.2.1", "2001:db8::4", "::ffff:192.0.2.1"):
        address = v6(client) if ":" in client else v4(client)
        expected = table[avalanche(fold_address(address)) % len(table)]
        assert balancer.pick(PickKey(source=address)) == expected
