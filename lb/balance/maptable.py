"""``hash-type map-based``: hash modulo the total weight, over a weighted table.

The table holds each selectable server weight times (after dividing by the
gcd), interleaved; a key goes to ``table[hash % len(table)]``. It is fast and
even, but static: when a server leaves or a weight changes the modulus
changes and most keys move (about (N-1)/N of them for one server out of N).
The mapping is a pure function of the hash and the table, so it is the same
in every worker and after every rebuild.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from lb.balance.interleave import weighted_order
from lb.balance.view import ServerView, selectable

WEIGHT_SCALE = 16  # HAProxy's effective weight: the configured weight (over the gcd) times 16
_MAP_WORK = 400_000  # servers x table length above which the O(n·L) build is too slow (~0.1 s)


def haproxy_map(weights: Sequence[int]) -> list[int]:
    """HAProxy's map-based table over ``weights`` (positions in server order), or [] if too big.

    Each weight is divided by the gcd and scaled by WEIGHT_SCALE; the table has one entry
    per unit of the total. For each entry every server adds its weight to its score and the
    first one whose ``(score + total) // total`` is highest takes the entry, paying the
    total back. Same table, so ``hash % total`` picks the same server as HAProxy. Beyond
    ``_MAP_WORK`` (e.g. 100 servers of unequal weights) it returns [] and the caller uses
    the O(L log L) ``weighted_order``, which spreads as evenly but in another order. With
    equal weights it returns [] too: there HAProxy's table is 0..n-1 repeated, so
    ``hash % n`` over weighted_order's 0..n-1 picks the same server.
    """
    positive = [w for w in weights if w > 0]
    if not positive:
        return []
    divisor = math.gcd(*positive)
    if len(set(positive)) == 1:
        return []  # equal weights: weighted_order's 0..n-1 gives HAProxy's pick for any hash
    scaled = [max(w, 0) // divisor * WEIGHT_SCALE for w in weights]
    total = sum(scaled)
    if total * len(scaled) > _MAP_WORK:
        return []
    scores = [0] * len(scaled)
    table: list[int] = []
    candidates = [i for i, w in enumerate(scaled) if w > 0]
    for _ in range(total):
        best = -1
        best_value = -1
        for i in candidates:
            scores[i] += scaled[i]
            value = (scores[i] + total) // total
            if value > best_value:
                best_value = value
                best = i
        scores[best] -= total
        table.append(best)
    return table


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
        weights = [weight for _, weight in members]
        order = haproxy_map(weights) or weighted_order(weights)
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
