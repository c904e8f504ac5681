"""``balance roundrobin``: weighted round robin whose weights may change at run time.

Each server has a virtual deadline; a pick takes the earliest (ties to the
lower index) and pushes it one stride further, a stride being inversely
proportional to the weight. That is earliest-deadline-first over a heap:
O(log n) per pick, where scanning every server (``SmoothRoundRobin``) costs
O(n). Equal weights give the plain order 0 1 2 3 0 …; servers start half a
stride in, so weights 5 1 1 interleave (a a a b c a a) rather than burst.

A weight change rescales what is left of the server's current stride, so the
cycle carries on from where it is instead of restarting: a server whose weight
doubles comes up in half the remaining time. A server that comes back (or is
new) starts half a stride after the current virtual time.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from lb.balance.view import PickKey, ServerView, selectable

# Virtual time per pick of a weight-1 server. lcm(1..16) * 2^16: exact strides for
# every weight up to 16 and for powers of two, and far below float-free bigints.
STRIDE = 720_720 << 16


class RoundRobin:
    __slots__ = ("_heap", "_now", "_strides", "_weighted")

    def __init__(self, servers: Sequence[ServerView], *, weighted: bool = True) -> None:
        self._weighted = weighted  # False: LVS rr, every selectable server counts once
        self._heap: list[tuple[int, int]] = []  # (deadline, server index)
        self._strides: dict[int, int] = {}
        self._now = 0
        self.update(servers)

    def update(self, servers: Sequence[ServerView]) -> None:
        deadlines = {index: deadline for deadline, index in self._heap}
        old_strides = self._strides
        now = self._now
        heap: list[tuple[int, int]] = []
        strides: dict[int, int] = {}
        for server in servers:
            if not selectable(server):
                continue
            stride = STRIDE // (server.weight if self._weighted else 1)
            strides[server.index] = stride
            deadline = deadlines.get(server.index)
            if deadline is None:
                deadline = now + stride // 2
            elif (old := old_strides[server.index]) != stride:
                deadline = now + (deadline - now) * stride // old
            heap.append((deadline, server.index))
        heapq.heapify(heap)
        self._heap = heap
        self._strides = strides

    def pick(self, key: PickKey | None = None, exclude: int | None = None) -> int | None:
        heap = self._heap
        if not heap:
            return None
        deadline, index = heap[0]
        if index == exclude:
            if len(heap) == 1:
                return None
            # Take the runner-up; the excluded server keeps its place for later.
            skipped = heapq.heappop(heap)
            deadline, index = heap[0]
            heapq.heapreplace(heap, (deadline + self._strides[index], index))
            heapq.heappush(heap, skipped)
        else:
            heapq.heapreplace(heap, (deadline + self._strides[index], index))
        self._now = deadline
        return index
