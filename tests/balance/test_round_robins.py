"""roundrobin (dynamic), static-rr, LVS rr/wrr and the interleaved table they share."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lb.balance import ServerView, make_balancer
from lb.balance.interleave import weighted_order
from tests.balance.helpers import assert_shares, picks, servers, shares

ROUND_ROBINS = ["roundrobin", "static-rr", "lvs:wrr"]


@pytest.mark.parametrize("algorithm", [*ROUND_ROBINS, "lvs:rr"])
def test_four_servers_five_picks(algorithm: str) -> None:
    balancer = make_balancer(algorithm, [], [], servers(1, 1, 1, 1))
    assert picks(balancer, 5) == [0, 1, 2, 3, 0]


@pytest.mark.parametrize("algorithm", ROUND_ROBINS)
@pytest.mark.parametrize("weights", [(10, 20, 30, 40), (1, 2, 3), (256, 1, 7, 100)])
def test_weighted_shares_within_one_percent(algorithm: str, weights: tuple[int, ...]) -> None:
    balancer = make_balancer(algorithm, [], [], servers(*weights))
    assert_shares(shares(balancer, 100_000), weights, 0.01)


@pytest.mark.parametrize(
    ("algorithm", "weights", "expected"),
    [
        ("roundrobin", (5, 1, 1), [0, 0, 0, 1, 2, 0, 0]),  # interleaved, not a burst
        ("static-rr", (5, 1, 1), [0, 0, 0, 1, 2, 0, 0]),
        ("roundrobin", (2, 1), [0, 1, 0]),
        ("roundrobin", (0, 1, 1), [1, 2, 1, 2]),  # weight 0 is never picked
        ("lvs:rr", (5, 1, 1), [0, 1, 2, 0, 1, 2]),  # rr ignores weights
    ],
)
def test_order(algorithm: str, weights: tuple[int, ...], expected: list[int]) -> None:
    balancer = make_balancer(algorithm, [], [], servers(*weights))
    assert picks(balancer, len(expected)) == expected


def test_weight_change_takes_effect_in_roundrobin() -> None:
    pool = servers(1, 1)
    balancer = make_balancer("roundrobin", [], [], pool)
    picks(balancer, 7)  # mid-cycle
    pool[0].weight = 3
    balancer.update(pool)
    assert_shares(shares(balancer, 40_000), (3, 1), 0.01)


def test_weight_change_has_no_effect_in_static_rr() -> None:
    pool = servers(1, 1)
    balancer = make_balancer("static-rr", [], [], pool)
    pool[0].weight = 3
    balancer.update(pool)
    assert_shares(shares(balancer, 40_000), (1, 1), 0.001)


def test_static_rr_still_follows_state_changes() -> None:
    pool = servers(1, 1, 1)
    balancer = make_balancer("static-rr", [], [], pool)
    pool[1].usable = False
    balancer.update(pool)
    assert set(picks(balancer, 6)) == {0, 2}
    pool[1].usable = True
    balancer.update(pool)
    assert set(picks(balancer, 6)) == {0, 1, 2}


def test_roundrobin_weight_change_does_not_restart_the_cycle() -> None:
    # After a change, nobody is starved or served in a burst: the first picks
    # after the update still alternate.
    pool = servers(1, 1, 1, 1)
    balancer = make_balancer("roundrobin", [], [], pool)
    assert picks(balancer, 2) == [0, 1]
    pool[3].weight = 2
    balancer.update(pool)
    after = picks(balancer, 5)
    assert sorted(after) == [0, 1, 2, 3, 3]
    assert after[:2] == [2, 3]  # the cycle in progress carries on


def test_server_coming_back_joins_without_a_burst() -> None:
    pool = servers(1, 1, 1)
    balancer = make_balancer("roundrobin", [], [], pool)
    pool[2].usable = False
    balancer.update(pool)
    picks(balancer, 1000)
    pool[2].usable = True
    balancer.update(pool)
    window = picks(balancer, 30)
    assert window.count(2) == 10  # its fair share at once, not 500 catch-up picks


@pytest.mark.parametrize("algorithm", [*ROUND_ROBINS, "lvs:rr"])
def test_exclude_skips_but_still_returns_another(algorithm: str) -> None:
    balancer = make_balancer(algorithm, [], [], servers(1, 1, 1))
    assert balancer.pick() == 0
    assert balancer.pick(exclude=1) == 2
    assert balancer.pick(exclude=0) in (1, 2)


@pytest.mark.parametrize("algorithm", ROUND_ROBINS)
def test_exclude_of_the_only_server_returns_it(algorithm: str) -> None:
    balancer = make_balancer(algorithm, [], [], servers(3))
    assert balancer.pick(exclude=0) == 0


@pytest.mark.parametrize("algorithm", ROUND_ROBINS)
def test_nothing_selectable_gives_none(algorithm: str) -> None:
    pool = [ServerView(0, "a", 0), ServerView(1, "b", 5, usable=False)]
    assert make_balancer(algorithm, [], [], pool).pick() is None


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([1, 1, 1, 1], [0, 1, 2, 3]),
        ([2, 2], [0, 1]),  # reduced by the gcd
        ([5, 1, 1], [0, 0, 0, 1, 2, 0, 0]),
        ([0, 3], [1]),
        ([0, 0], []),
    ],
)
def test_weighted_order(weights: list[int], expected: list[int]) -> None:
    assert weighted_order(weights) == expected


@given(st.lists(st.integers(min_value=0, max_value=256), min_size=1, max_size=12))
def test_weighted_order_counts_match_weights(weights: list[int]) -> None:
    order = weighted_order(weights)
    positive = [w for w in weights if w > 0]
    if not positive:
        assert order == []
        return
    scale = sum(positive) // len(order)  # the gcd
    for position, weight in enumerate(weights):
        assert order.count(position) * scale == weight


@given(st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=6))
def test_roundrobin_cycle_is_exact_over_one_period(weights: list[int]) -> None:
    # Over sum(weights) picks each server gets exactly its weight, within one pick.
    balancer = make_balancer("roundrobin", [], [], servers(*weights))
    got = picks(balancer, sum(weights))
    for index, weight in enumerate(weights):
        assert abs(got.count(index) - weight) <= 1
