"""random / random(N): power of N choices over weighted draws."""

import random

import pytest

from lb.balance import make_balancer
from tests.balance.helpers import assert_shares, servers, shares


@pytest.mark.parametrize("algorithm", ["random", "random(2)", "random(1)", "lvs:twos"])
@pytest.mark.parametrize("weights", [(10, 20, 30, 40), (1, 1, 1)])
def test_weighted_shares_with_equal_load(algorithm: str, weights: tuple[int, ...]) -> None:
    balancer = make_balancer(algorithm, [], [], servers(*weights), rng=random.Random(7))
    assert_shares(shares(balancer, 100_000), weights, 0.01)


def test_the_least_loaded_of_the_draws_wins() -> None:
    pool = servers(1, 1)
    pool[0].cur_conns = 50
    balancer = make_balancer("random(2)", [], [], pool, rng=random.Random(1))
    got = shares(balancer, 10_000)
    # Server 0 wins only when both draws land on it: 1/4 of the time.
    assert abs(got[0] - 0.25) < 0.02


def test_more_draws_avoid_the_loaded_server_more() -> None:
    pool = servers(1, 1, 1, 1)
    pool[0].cur_conns = 50
    two = shares(make_balancer("random(2)", [], [], pool, rng=random.Random(1)), 20_000)
    five = shares(make_balancer("random(5)", [], [], pool, rng=random.Random(1)), 20_000)
    assert five.get(0, 0) < two[0]


def test_load_is_per_weight() -> None:
    pool = servers(1, 10)
    pool[0].cur_conns, pool[1].cur_conns = 1, 5  # 1/1 > 5/10: server 1 is less loaded
    balancer = make_balancer("random(10)", [], [], pool, rng=random.Random(3))
    assert shares(balancer, 1000)[1] > 0.99


def test_same_seed_same_picks() -> None:
    a = make_balancer("random", [], [], servers(1, 2, 3), rng=random.Random(5))
    b = make_balancer("random", [], [], servers(1, 2, 3), rng=random.Random(5))
    assert [a.pick() for _ in range(50)] == [b.pick() for _ in range(50)]


def test_exclude_skips_and_falls_back() -> None:
    balancer = make_balancer("random", [], [], servers(100, 1), rng=random.Random(2))
    assert all(balancer.pick(exclude=0) == 1 for _ in range(200))
    assert make_balancer("random", [], [], servers(5)).pick(exclude=0) == 0


@pytest.mark.parametrize("bad", ["random(0)", "random(x)", "random()"])
def test_bad_draws(bad: str) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        make_balancer(bad, [], [], servers(1))
