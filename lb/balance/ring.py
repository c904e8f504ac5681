"""``hash-type consistent``: a hash ring with points per server proportional to its weight.

Each selectable server gets ``weight * POINTS_PER_WEIGHT`` points; a key goes
to the first point at or after its hash, clockwise. 16 points per unit of
weight is HAProxy's scale (a server of weight 256 gets 4,096 points), which
keeps 1,000 servers of weight 256 at 4M points. With the default weight of 1
the shares vary (16 points a server); as with HAProxy, give every server the
same higher weight (e.g. 100) for an even spread.

A server's points depend on its name only: the first ``4 * count`` bytes of
SHAKE-128("lb-chash\\0" + name), read as little-endian 32-bit words. So:

- ``update`` touches only the servers whose weight or state changed; taking a
  server out moves only its keys, putting it back restores the mapping exactly;
- a weight change keeps the server's existing points (the stream's prefix) and
  adds or drops points at the end;
- every worker, and every host of a VRRP pair, builds the same ring, and a
  reload that reorders or removes other servers does not move a key.
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from bisect import bisect_left
from collections.abc import Sequence

from lb.balance.view import ServerView, selectable

POINTS_PER_WEIGHT = 16
INDEX_BITS = 20  # ring entries are (point << INDEX_BITS) | server index: one sorted list of ints
INDEX_MASK = (1 << INDEX_BITS) - 1

_WORD = "I" if array("I").itemsize == 4 else "L"


def server_points(name: str, count: int) -> list[int]:
    """The ring positions (32-bit) of the server called ``name``, ``count`` of them."""
    stream = hashlib.shake_128(b"lb-chash\0" + name.encode()).digest(4 * count)
    words = array(_WORD, stream)
    if sys.byteorder == "big":
        words.byteswap()
    return words.tolist()


class ConsistentRing:
    __slots__ = ("_members", "_ring")

    def __init__(self, servers: Sequence[ServerView] = ()) -> None:
        self._members: dict[int, tuple[str, int]] = {}  # index → (name, weight)
        self._ring: list[int] = []
        self.update(servers)

    def __len__(self) -> int:
        return len(self._ring)

    def update(self, servers: Sequence[ServerView]) -> None:
        wanted = {s.index: (s.name, s.weight) for s in servers if selectable(s)}
        old = self._members
        changed = {i for i in old.keys() | wanted.keys() if old.get(i) != wanted.get(i)}
        if not changed:
            return
        if any(i >= 1 << INDEX_BITS for i in wanted):
            raise ValueError(f"consistent hashing supports up to {1 << INDEX_BITS} servers")
        ring = [p for p in self._ring if (p & INDEX_MASK) not in changed]
        for index in changed:
            if index in wanted:
                name, weight = wanted[index]
                ring.extend(
                    (point << INDEX_BITS) | index
                    for point in server_points(name, weight * POINTS_PER_WEIGHT)
                )
        ring.sort()
        self._ring = ring
        self._members = wanted

    def lookup(self, hash32: int, exclude: int | None = None) -> int | None:
        ring = self._ring
        if not ring:
            return None
        size = len(ring)
        position = bisect_left(ring, hash32 << INDEX_BITS)
        if position == size:
            position = 0
        index = ring[position] & INDEX_MASK
        if index != exclude:
            return index
        # Redispatch: the next server clockwise, which is where the key would go
        # if the excluded server left the ring.
        for step in range(1, size):
            index = ring[(position + step) % size] & INDEX_MASK
            if index != exclude:
                return index
        return None
