"""leastconn and the LVS least-connection family (lc, wlc, sed, nq)."""

import pytest

from lb.balance import ServerView, make_balancer
from tests.balance.helpers import picks, servers


def loaded(weights: tuple[int, ...], conns: tuple[int, ...]) -> list[ServerView]:
    pool = servers(*weights)
    for server, n in zip(pool, conns, strict=True):
        server.cur_conns = n
    return pool


@pytest.mark.parametrize(
    ("algorithm", "weights", "conns", "expected"),
    [
        ("leastconn", (1, 1, 1), (5, 2, 9), 1),
        ("leastconn", (1, 4, 1), (2, 6, 3), 1),  # 6/4 < 2/1
        ("leastconn", (1, 2, 1), (1, 3, 9), 0),  # 1/1 < 3/2
        ("lvs:wlc", (1, 4, 1), (2, 6, 3), 1),
        ("lvs:lc", (1, 4, 1), (2, 6, 3), 0),  # lc ignores weights
        ("lvs:sed", (1, 3), (0, 2), 0),  # (0+1)/1 = 1 = (2+1)/3, tie: first
        ("lvs:sed", (1, 4), (0, 2), 1),  # 1/1 > 3/4
        ("lvs:wlc", (1, 4), (0, 2), 0),  # 0/1 < 2/4 where sed disagrees
        ("lvs:nq", (1, 100), (0, 1), 0),  # an idle server first, however light the other
        ("lvs:nq", (1, 100), (1, 1), 1),  # none idle: sed
    ],
)
def test_picks_the_least_loaded(
    algorithm: str, weights: tuple[int, ...], conns: tuple[int, ...], expected: int
) -> None:
    assert make_balancer(algorithm, [], [], loaded(weights, conns)).pick() == expected


@pytest.mark.parametrize("algorithm", ["leastconn", "lvs:lc", "lvs:sed", "lvs:nq"])
def test_ties_go_round_robin(algorithm: str) -> None:
    balancer = make_balancer(algorithm, [], [], servers(1, 1, 1, 1))
    assert picks(balancer, 6) == [0, 1, 2, 3, 0, 1]


def test_ties_rotate_among_the_least_loaded_only() -> None:
    pool = loaded((1, 1, 1, 1), (0, 3, 0, 0))
    balancer = make_balancer("leastconn", [], [], pool)
    assert picks(balancer, 6) == [0, 2, 3, 0, 2, 3]


def test_reads_connections_at_pick_time() -> None:
    pool = servers(1, 1)
    balancer = make_balancer("leastconn", [], [], pool)
    pool[0].cur_conns = 10  # refreshed in place by the worker: no update() needed
    assert picks(balancer, 3) == [1, 1, 1]


def test_follows_connections_as_they_open() -> None:
    pool = servers(1, 2)
    balancer = make_balancer("leastconn", [], [], pool)
    for _ in range(30):
        chosen = balancer.pick()
        assert chosen is not None
        pool[chosen].cur_conns += 1
    assert (pool[0].cur_conns, pool[1].cur_conns) == (10, 20)


def test_exclude_and_unusable() -> None:
    pool = loaded((1, 1, 1), (0, 5, 5))
    pool[2].usable = False
    balancer = make_balancer("leastconn", [], [], pool)
    balancer.update(pool)
    assert balancer.pick(exclude=0) == 1
    assert balancer.pick() == 0
    pool[1].usable = False
    balancer.update(pool)
    assert balancer.pick(exclude=0) == 0  # the only one left
