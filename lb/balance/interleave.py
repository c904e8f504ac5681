"""A weighted order in which each server's turns are spread evenly over the cycle."""

from __future__ import annotations

import math
from collections.abc import Sequence


def weighted_order(weights: Sequence[int]) -> list[int]:
    """One cycle of positions into ``weights``, each ``w`` times (after dividing by the gcd).

    The k-th turn of a server of weight w sits at (2k+1)/(2w) of the cycle, ties
    going to the lower position: equal weights give 0 1 2 …, weights 5 1 1 give
    0 0 0 1 2 0 0. It is an O(L log L) sort, where the smooth weighted round
    robin of ``roundrobin.smooth_sequence`` costs O(n·L): 1,000 servers of
    weights up to 256 would take minutes there, a fraction of a second here.
    """
    positive = [w for w in weights if w > 0]
    if not positive:
        return []
    divisor = math.gcd(*positive)
    turns: list[tuple[float, int]] = []
    for position, weight in enumerate(weights):
        if weight <= 0:
            continue
        w = weight // divisor
        # Division of exact integers is correctly rounded, so equal fractions
        # (1/2 and 3/6) compare equal and the tie goes to the lower position.
        turns.extend(((2 * k + 1) / (2 * w), position) for k in range(w))
    turns.sort()
    return [position for _, position in turns]
