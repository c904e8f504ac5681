"""Least-connection algorithms: HAProxy's ``leastconn`` and LVS's lc, wlc, sed and nq.

Every pick compares the load of each selectable server, read from
``ServerView.cur_conns`` at that moment (the counters are daemon-wide, in
shared memory, and change with every connection, so there is no index to keep
up to date). Among equally loaded servers the choice rotates: the scan starts
after the last server picked, as HAProxy's leastconn round-robins among equals.

Costs (lower is better):

- ``wlc`` (leastconn): cur_conns / weight
- ``lc``: cur_conns (weights only decide who is selectable)
- ``sed`` (shortest expected delay): (cur_conns + 1) / weight
- ``nq`` (never queue): 0 for an idle server, else as sed
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from lb.balance.view import PickKey, ServerView, selectable

COSTS = ("wlc", "lc", "sed", "nq")


class LeastConn:
    __slots__ = ("_cost", "_divisors", "_next", "_positions", "_servers")

    def __init__(self, servers: Sequence[ServerView], *, cost: str = "wlc") -> None:
        if cost not in COSTS:
            raise ValueError(f"unknown least-connection cost '{cost}'")
        self._cost = cost
        self._servers: list[ServerView] = []
        self._divisors: list[int] = []
        self._positions: dict[int, int] = {}
        self._next = 0
        self.update(servers)

    def update(self, servers: Sequence[ServerView]) -> None:
        self._servers = [s for s in servers if selectable(s)]
        unweighted = self._cost == "lc"
        self._divisors = [1 if unweighted else s.weight for s in self._servers]
        self._positions = {s.index: p for p, s in enumerate(self._servers)}
        self._next = self._next % len(self._servers) if self._servers else 0

    def _loads(self) -> list[float]:
        servers, divisors = self._servers, self._divisors
        # Float division of exact integers is correctly rounded: equal ratios
        # (2/4 and 1/2) tie exactly, and unequal ones never collide at these sizes.
        if self._cost in ("wlc", "lc"):
            return [s.cur_conns / d for s, d in zip(servers, divisors, strict=True)]
        if self._cost == "sed":
            return [(s.cur_conns + 1) / d for s, d in zip(servers, divisors, strict=True)]
        return [
            (s.cur_conns + 1) / d if s.cur_conns else 0.0
            for s, d in zip(servers, divisors, strict=True)
        ]

    def pick(self, key: PickKey | None = None, exclude: int | None = None) -> int | None:
        if not self._servers:
            return None
        loads = self._loads()
        if exclude is not None and (skip := self._positions.get(exclude)) is not None:
            if len(loads) == 1:
                return None
            loads[skip] = math.inf
        least = min(loads)
        # The first least-loaded server at or after the rotation point, else before it.
        try:
            position = loads.index(least, self._next)
        except ValueError:
            position = loads.index(least)
        self._next = (position + 1) % len(loads)
        return self._servers[position].index
