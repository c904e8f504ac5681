"""Smooth weighted round robin.

Each pick adds every eligible server's weight to its running score, takes the
highest score and subtracts the total weight from it. Equal weights give the
plain order s1 s2 s3 …; unequal weights interleave instead of bursting (weights
5,1,1 give a a b a c a a rather than a a a a a b c).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class SmoothRoundRobin(Generic[T]):
    __slots__ = ("_items", "_scores", "_weights")

    def __init__(self, items: Sequence[T], weights: Sequence[int]) -> None:
        if len(items) != len(weights):
            raise ValueError("one weight per item")
        self._items = list(items)
        self._weights = list(weights)
        self._scores = [0] * len(items)

    def set_weight(self, index: int, weight: int) -> None:
        self._weights[index] = weight

    def pick(self, usable: Callable[[int], bool] | None = None) -> T | None:
        """The next item, skipping weight-0 items and those ``usable`` rejects."""
        best = -1
        total = 0
        scores = self._scores
        weights = self._weights
        for i, weight in enumerate(weights):
            if weight <= 0 or (usable is not None and not usable(i)):
                continue
            scores[i] += weight
            total += weight
            if best < 0 or scores[i] > scores[best]:
                best = i
        if best < 0:
            return None
        scores[best] -= total
        return self._items[best]


def smooth_sequence(weights: Sequence[int]) -> list[int]:
    """One full cycle of smooth weighted round robin, as indexes into ``weights``.

    Workers share one position counter per backend (an atomic in shared memory)
    and read this cycle at that position, so the order holds for the whole
    daemon, not per worker: 4 equal servers and 5 connections give s1 s2 s3 s4
    s1 whichever workers accept them.
    """
    positive = [w for w in weights if w > 0]
    if not positive:
        return []
    divisor = math.gcd(*positive)
    rr = SmoothRoundRobin(list(range(len(weights))), [w // divisor for w in weights])
    length = sum(positive) // divisor
    return [rr.pick() for _ in range(length)]  # type: ignore[misc]
