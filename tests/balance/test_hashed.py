"""source, uri, url_param, hdr: same key, same server; nothing to hash, round robin."""

import pytest

from lb.balance import KeySpec, PickKey, make_balancer
from tests.balance.helpers import picks, servers

HASH_TYPES = [[], ["map-based", "crc32"], ["consistent"], ["consistent", "wt6", "avalanche"]]

CASES = [
    ("source", [], PickKey(source=bytes([192, 0, 2, 7]))),
    ("source", [], PickKey(source=bytes(15) + b"\x01")),  # IPv6
    ("uri", [], PickKey(uri="/img/logo.png?v=3")),
    ("uri", ["whole"], PickKey(uri="/img/logo.png?v=3")),
    ("url_param", ["userid"], PickKey(uri="/login?userid=alice")),
    ("url_param", ["userid"], PickKey(param=b"alice")),
    ("hdr(Host)", [], PickKey(header=b"www.example.com")),
    ("hdr(Host)", ["use_domain_only"], PickKey(header=b"www.example.com")),
    ("lvs:dh", [], PickKey(destination=bytes([198, 51, 100, 1]))),
    ("lvs:sh", [], PickKey(source=bytes([192, 0, 2, 7]))),
]


@pytest.mark.parametrize("hash_type", HASH_TYPES)
@pytest.mark.parametrize(("algorithm", "args", "key"), CASES)
def test_same_key_same_server(
    algorithm: str, args: list[str], key: PickKey, hash_type: list[str]
) -> None:
    balancer = make_balancer(algorithm, args, hash_type, servers(*[1] * 7))
    first = balancer.pick(key)
    assert first is not None
    assert picks(balancer, 10, key) == [first] * 10
    # Another balancer (another worker) agrees.
    assert make_balancer(algorithm, args, hash_type, servers(*[1] * 7)).pick(key) == first


@pytest.mark.parametrize(("algorithm", "args"), [("uri", []), ("source", [])])
def test_different_keys_spread(algorithm: str, args: list[str]) -> None:
    balancer = make_balancer(algorithm, args, ["consistent"], servers(*[100] * 4))
    keys = [PickKey(source=bytes([10, 0, i // 256, i % 256]), uri=f"/{i}") for i in range(2000)]
    assert {balancer.pick(k) for k in keys} == {0, 1, 2, 3}


@pytest.mark.parametrize(
    ("algorithm", "args", "key"),
    [
        ("url_param", ["userid"], PickKey(uri="/login")),  # no parameter
        ("url_param", ["userid"], PickKey(uri="/login?userid=")),  # empty value
        ("url_param", ["userid"], None),
        ("hdr(X-Tenant)", [], PickKey(header=None)),
        ("hdr(X-Tenant)", [], PickKey(header=b"")),
        ("source", [], PickKey(source=None)),  # e.g. a unix socket client
        ("uri", ["path-only"], PickKey(uri="www.example.com:443")),
    ],
)
def test_nothing_to_hash_falls_back_to_round_robin(
    algorithm: str, args: list[str], key: PickKey | None
) -> None:
    balancer = make_balancer(algorithm, args, [], servers(1, 1, 1))
    assert picks(balancer, 5, key) == [0, 1, 2, 0, 1]


def test_param_given_by_the_worker_wins_over_the_uri() -> None:
    balancer = make_balancer("url_param", ["id"], [], servers(*[1] * 9))
    by_uri = balancer.pick(PickKey(uri="/?id=abc"))
    assert balancer.pick(PickKey(uri="/?id=zzz", param=b"abc")) == by_uri


def test_uri_options_change_the_key() -> None:
    balancer = make_balancer("uri", ["depth", "1"], ["consistent"], servers(*[10] * 9))
    a = balancer.pick(PickKey(uri="/tenant1/x/y"))
    assert balancer.pick(PickKey(uri="/tenant1/other?q")) == a


@pytest.mark.parametrize("hash_type", HASH_TYPES)
def test_exclude_gives_another_server_for_the_same_key(hash_type: list[str]) -> None:
    balancer = make_balancer("source", [], hash_type, servers(1, 1, 1))
    key = PickKey(source=b"\x0a\x00\x00\x01")
    first = balancer.pick(key)
    again = balancer.pick(key, exclude=first)
    assert again is not None and again != first
    assert balancer.pick(key, exclude=first) == again  # deterministic too


@pytest.mark.parametrize(
    ("algorithm", "args", "spec"),
    [
        ("roundrobin", [], KeySpec()),
        ("source", [], KeySpec("source")),
        ("uri", ["whole"], KeySpec("uri")),
        ("url_param", ["sid"], KeySpec("param", "sid")),
        ("hdr(Host)", [], KeySpec("header", "Host")),
        ("lvs:dh", [], KeySpec("destination")),
        ("lvs:lblc", [], KeySpec("destination")),
    ],
)
def test_key_spec_tells_the_worker_what_to_fill(
    algorithm: str, args: list[str], spec: KeySpec
) -> None:
    assert make_balancer(algorithm, args, [], servers(1)).key_spec == spec
