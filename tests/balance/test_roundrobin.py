from collections import Counter

import pytest

from lb.balance.roundrobin import SmoothRoundRobin, smooth_sequence


@pytest.mark.parametrize(
    ("weights", "picks", "expected"),
    [
        ([1, 1, 1, 1], 5, "a b c d a"),
        ([5, 1, 1], 7, "a a b a c a a"),
        ([2, 1], 6, "a b a a b a"),
        ([0, 1, 1], 4, "b c b c"),  # weight 0 is never picked
        ([3], 3, "a a a"),
    ],
)
def test_order(weights: list[int], picks: int, expected: str) -> None:
    names = "abcd"[: len(weights)]
    rr = SmoothRoundRobin(list(names), weights)
    assert " ".join(rr.pick() or "-" for _ in range(picks)) == expected


def test_all_zero_weights_pick_nothing() -> None:
    assert SmoothRoundRobin(["a", "b"], [0, 0]).pick() is None


def test_usable_filter_skips_and_keeps_shares() -> None:
    rr = SmoothRoundRobin(["a", "b", "c"], [1, 1, 1])
    picks = [rr.pick(lambda i: i != 1) for _ in range(6)]
    assert picks == ["a", "c", "a", "c", "a", "c"]


def test_weighted_shares_within_one_percent() -> None:
    weights = [10, 20, 30, 40]
    rr = SmoothRoundRobin(list("abcd"), weights)
    counts = Counter(rr.pick() for _ in range(100_000))
    for name, weight in zip("abcd", weights, strict=True):
        assert abs(counts[name] / 100_000 - weight / 100) < 0.01


def test_set_weight_takes_effect() -> None:
    rr = SmoothRoundRobin(["a", "b"], [1, 1])
    rr.set_weight(1, 0)
    assert {rr.pick() for _ in range(4)} == {"a"}


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([1, 1, 1, 1], [0, 1, 2, 3]),
        ([2, 2], [0, 1]),  # reduced by the gcd
        ([5, 1, 1], [0, 0, 1, 0, 2, 0, 0]),
        ([0, 3], [1]),
        ([0, 0], []),
    ],
)
def test_smooth_sequence_is_one_cycle(weights: list[int], expected: list[int]) -> None:
    assert smooth_sequence(weights) == expected


def test_smooth_sequence_shares_match_weights() -> None:
    weights = [10, 20, 30, 40, 0, 256]
    seq = smooth_sequence(weights)
    counts = Counter(seq)
    total = sum(weights)
    for i, w in enumerate(weights):
        assert counts[i] * total == w * len(seq)
