"""``balance random`` / ``random(<draws>)``: power of N choices.

Each draw picks a server with a probability proportional to its weight; of
the servers drawn, the least loaded (cur_conns / weight) wins, the first drawn
winning ties, so with equal loads the shares follow the weights. HAProxy draws
on its consistent-hash ring; drawing from the cumulative weights gives the
exact weight shares instead of the ring's approximation. A draw that lands on
the excluded server (redispatch) is drawn again, a bounded number of times.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

from lb.balance.view import PickKey, ServerView, selectable

DEFAULT_DRAWS = 2


class PowerOfChoices:
    __slots__ = ("_cumulative", "_draws", "_rng", "_servers", "_total")

    def __init__(
        self,
        servers: Sequence[ServerView],
        *,
        draws: int = DEFAULT_DRAWS,
        rng: random.Random | None = None,
    ) -> None:
        if draws < 1:
            raise ValueError("random(<draws>) needs at least one draw")
        self._draws = draws
        self._rng = rng if rng is not None else random.Random()
        self._servers: list[ServerView] = []
        self._cumulative: list[int] = []
        self._total = 0
        self.update(servers)

    def update(self, servers: Sequence[ServerView]) -> None:
        self._servers = [s for s in servers if selectable(s)]
        self._cumulative = list(accumulate(s.weight for s in self._servers))
        self._total = self._cumulative[-1] if self._cumulative else 0

    def pick(self, key: PickKey | None = None, exclude: int | None = None) -> int | None:
        servers = self._servers
        if not servers:
            return None
        cumulative, total, rnd = self._cumulative, self._total, self._rng.random
        last = len(servers) - 1
        best: ServerView | None = None
        drawn = 0
        for _ in range(4 * self._draws):
            # min(): random() < 1, but random() * total may round up to total.
            s = servers[min(bisect_right(cumulative, rnd() * total), last)]
            if s.index == exclude:
                continue
            if best is None or s.cur_conns * best.weight < best.cur_conns * s.weight:
                best = s
            drawn += 1
            if drawn == self._draws:
                break
        if best is None:
            # Every draw hit the excluded server: any other one will do.
            best = next((s for s in servers if s.index != exclude), None)
        return best.index if best is not None else None
