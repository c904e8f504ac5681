"""Backup servers: only when no primary is selectable; the first one, or all with allbackups."""

import random

import pytest

from lb.balance import PickKey, ServerView, make_balancer
from tests.balance.helpers import picks, servers

ALGORITHMS = [
    ("roundrobin", []),
    ("static-rr", []),
    ("leastconn", []),
    ("first", []),
    ("random", []),
    ("source", []),
    ("uri", []),
    ("url_param", ["id"]),
    ("hdr(Host)", []),
    ("lvs:wlc", []),
    ("lvs:sed", []),
]


def farm() -> list[ServerView]:
    return servers(1, 1, 1, 1, 1, backups=(3, 4))  # s0..s2 primaries, s3 s4 backups


def key(i: int) -> PickKey:
    return PickKey(source=bytes([10, 0, 0, i]), uri=f"/{i}?id={i}", header=f"h{i}".encode())


@pytest.mark.parametrize(("algorithm", "args"), ALGORITHMS)
def test_backups_only_when_every_primary_is_down(algorithm: str, args: list[str]) -> None:
    pool = farm()
    balancer = make_balancer(algorithm, args, [], pool, rng=random.Random(1))
    assert {balancer.pick(key(i)) for i in range(60)} <= {0, 1, 2}
    pool[0].usable = False
    pool[1].weight = 0  # drained
    balancer.update(pool)
    assert {balancer.pick(key(i)) for i in range(60)} == {2}
    pool[2].usable = False
    balancer.update(pool)
    assert {balancer.pick(key(i)) for i in range(60)} == {3}  # the first backup only
    pool[0].usable = True
    balancer.update(pool)
    assert {balancer.pick(key(i)) for i in range(60)} == {0}


@pytest.mark.parametrize(("algorithm", "args"), ALGORITHMS)
def test_allbackups_spreads_over_the_backups(algorithm: str, args: list[str]) -> None:
    pool = farm()
    for server in pool[:3]:
        server.usable = False
    balancer = make_balancer(algorithm, args, [], pool, allbackups=True, rng=random.Random(1))
    if algorithm == "first":
        assert {balancer.pick(key(i)) for i in range(60)} == {3}  # first fills in order
        pool[3].maxconn, pool[3].cur_conns = 1, 1
        assert balancer.pick() == 4
    else:
        assert {balancer.pick(key(i)) for i in range(200)} == {3, 4}


def test_first_backup_is_in_server_order_and_skips_unusable_ones() -> None:
    pool = servers(1, 1, 1, 1, backups=(1, 2, 3))
    pool[0].usable = False
    pool[1].usable = False
    balancer = make_balancer("roundrobin", [], [], pool)
    assert picks(balancer, 3) == [2, 2, 2]
    assert balancer.pick(exclude=2) == 3  # redispatch goes to another backup
    pool[3].usable = False
    balancer.update(pool)
    assert balancer.pick(exclude=2) == 2  # the only one left


def test_no_server_at_all() -> None:
    pool = servers(1, 1, backups=(1,))
    for server in pool:
        server.usable = False
    assert make_balancer("roundrobin", [], [], pool).pick() is None
    assert make_balancer("roundrobin", [], [], pool, allbackups=True).pick() is None
