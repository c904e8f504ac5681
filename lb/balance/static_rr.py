"""``balance static-rr``: weighted round robin over a table fixed by the initial weights.

As in HAProxy, weights set at start are kept: a weight change at run time has
no effect, but a server going down, up, or to weight 0 (drain, maintenance) is
taken out of or put back into the table. Picks are O(1): the next entry of a
precomputed cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

from lb.balance.interleave import weighted_order
from lb.balance.view import PickKey, ServerView, selectable


class StaticRoundRobin:
    __slots__ = ("_initial", "_members", "_position", "_table")

    def __init__(self, servers: Sequence[ServerView]) -> None:
        self._initial = {s.index: s.weight for s in servers}
        self._members: tuple[int, ...] = ()
        self._table: list[int] = []
        self._position = 0
        self.update(servers)

    def update(self, servers: Sequence[ServerView]) -> None:
        members = tuple(
            s.index for s in servers if selectable(s) and self._initial.get(s.index, 0) > 0
        )
        if members == self._members:
            return  # only weights changed: static-rr ignores them
        self._members = members
        order = weighted_order([self._initial[i] for i in members])
        self._table = [members[p] for p in order]
        # The position carries over, so a server coming back joins the cycle in
        # progress rather than resetting everyone to the start.
        if self._table:
            self._position %= len(self._table)

    def pick(self, key: PickKey | None = None, exclude: int | None = None) -> int | None:
        table = self._table
        if not table:
            return None
        size = len(table)
        # Redispatch skips the excluded server's turns; a lone excluded server gives None.
        for _ in range(size):
            index = table[self._position]
            self._position = (self._position + 1) % size
            if index != exclude:
                return index
        return None
