"""``hash-type map-based``: hash modulo the total weight, over a weighted table.

The table holds each selectable server weight times (after dividing by the
gcd), interleaved; a key goes to ``table[hash % len(table)]``. It is fast and
even, but static: when a server leaves or a weight changes the modulus
changes and most keys move (about (N-1)/N of them for one server out of N).
The mapping is a pure function of the hash and the table, so it is the same
in every worker and after every rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence

from lb.balance.interleave import weighted_order
from lb.balance.view import ServerView, selectable


class MapTable:
    __slots__ = ("_members", "_table")

    def __init__(self, servers: Sequence[ServerView] = ()) -> None:
        self._members: tuple[tuple[int, int], ...] = ()
        self._table: list[int] = []
        self.update(servers)

    def __len__(self) -> int:
        return len(self._table)

    def update(self, servers: Sequence[ServerView]) -> None:
        # By index, so the table does not depend on the order the views come in.
        members = tuple(sorted((s.index, s.weight) for s in servers if selectable(s)))
        if members == self._members:
            return
        self._members = members
        order = weighted_order([weight for _, weight in members])
        self._table = [members[p][0] for p in order]

    def lookup(self, hash32: int, exclude: int | None = None) -> int | None:
        table = self._table
        if not table:
            return None
        size = len(table)
        position = hash32 % size
        index = table[position]
        if index != exclude:
            return index
        for step in range(1, size):  # redispatch: the next other entry
            index = table[(position + step) % size]
            if index != exclude:
                return index
        return None
