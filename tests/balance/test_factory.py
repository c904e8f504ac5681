"""make_balancer and hash-type: what the configuration words mean, and what they may not say."""

import pytest

from lb.balance import HashType, make_balancer, parse_hash_type
from tests.balance.helpers import servers


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([], HashType(False, "sdbm", False)),
        (["map-based"], HashType(False, "sdbm", False)),
        (["map-based", "djb2"], HashType(False, "djb2", False)),
        (["map-based", "wt6", "avalanche"], HashType(False, "wt6", True)),
        (["consistent"], HashType(True, "sdbm", True)),  # HAProxy's default: with avalanche
        (["consistent", "sdbm"], HashType(True, "sdbm", False)),
        (["consistent", "crc32", "avalanche"], HashType(True, "crc32", True)),
        (["consistent", "avalanche"], HashType(True, "sdbm", True)),
    ],
)
def test_parse_hash_type(words: list[str], expected: HashType) -> None:
    assert parse_hash_type(words) == expected


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["ring"], "unknown method 'ring'"),
        (["consistent", "md5"], "unknown or unsupported function 'md5'"),
        (["consistent", "none"], "unsupported function 'none'"),
        (["consistent", "sdbm", "fast"], "unexpected 'fast'"),
    ],
)
def test_bad_hash_types(words: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_hash_type(words)


@pytest.mark.parametrize(
    ("algorithm", "args", "message"),
    [
        ("roundrobin", ["x"], "takes no argument, got 'x'"),
        ("leastconn", ["x"], "takes no argument"),
        ("bogus", [], "unknown balance algorithm 'bogus'"),
        ("rdp-cookie", [], "not supported yet"),
        ("hash", ["req.cookie(id)"], "not supported yet"),
        ("url_param", [], "needs a parameter name"),
        ("url_param", ["id", "check_post"], "'check_post' is not supported yet"),
        ("hdr", [], "needs a header name"),
        ("hdr()", [], "needs a header name"),
        ("hdr(Host)", ["x"], "unexpected 'x'"),
        ("uri", ["len"], "'len' needs a positive integer"),
        ("uri", ["depth", "0"], "'depth' needs a positive integer"),
        ("uri", ["deep"], "unknown option 'deep'"),
        ("roundrobin(2)", [], "takes no parenthesised argument"),
        ("lvs:bogus", [], "unknown LVS scheduler 'bogus'"),
        ("lvs:wlc", ["x"], "takes no argument"),
    ],
)
def test_bad_balance_lines(algorithm: str, args: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_balancer(algorithm, args, [], servers(1))


@pytest.mark.parametrize(
    ("algorithm", "args"),
    [
        ("roundrobin", []),
        ("RoundRobin", []),
        ("static-rr", []),
        ("leastconn", []),
        ("first", []),
        ("random", []),
        ("random(3)", []),
        ("source", []),
        ("uri", []),
        ("uri", ["len", "10", "depth", "2", "whole", "path-only"]),
        ("url_param", ["userid"]),
        ("hdr(User-Agent)", []),
        ("hdr(host)", ["use_domain_only"]),
    ],
)
def test_every_haproxy_algorithm_builds_and_picks(algorithm: str, args: list[str]) -> None:
    balancer = make_balancer(algorithm, args, ["consistent"], servers(1, 1))
    assert balancer.pick() in (0, 1)
    assert balancer.algorithm == algorithm


def test_empty_farm_builds() -> None:
    balancer = make_balancer("source", [], ["consistent"], [])
    assert balancer.pick() is None
    balancer.update(servers(1))
    assert balancer.pick() == 0
