"""Small builders shared by the balance tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from lb.balance import Balancer, PickKey, ServerView


def servers(*weights: int, backups: Sequence[int] = ()) -> list[ServerView]:
    """Servers s0, s1, … with these weights; ``backups`` lists backup positions."""
    return [
        ServerView(index=i, name=f"s{i}", weight=w, backup=i in backups)
        for i, w in enumerate(weights)
    ]


def picks(balancer: Balancer, count: int, key: PickKey | None = None) -> list[int | None]:
    return [balancer.pick(key) for _ in range(count)]


def shares(balancer: Balancer, count: int) -> dict[int | None, float]:
    counts = Counter(picks(balancer, count))
    return {index: n / count for index, n in counts.items()}


def assert_shares(got: dict[int | None, float], weights: Sequence[int], tol: float) -> None:
    total = sum(weights)
    for index, weight in enumerate(weights):
        assert abs(got.get(index, 0.0) - weight / total) < tol, (index, got)
