"""Event rates over a period, shared by every process, without a lock (pure).

HAProxy's frequency counter: the rate over period P read at time t is the count of the
current period plus the previous period's count weighted by the part of the current
period still to come::

    rate = cur + prev * (P - (t - start)) / P

Periods start at multiples of P on the clock (as HAProxy's do). A rate takes two words,
one per period parity; each word packs ``period number << 32 | count``, so rolling over
to a new period and counting in it is one compare-and-swap: an update never mixes two
periods, and any number of processes may update the same rate at once.

The words are anything with ``load(index)`` and ``cas(index, expected, desired)``
(``lb._native.SharedCounters``; a list-backed fake in the tests).
"""

from __future__ import annotations

from typing import Protocol

TAG_MASK = 0x7FFFFFFF  # period numbers kept: 31 bits, so a word stays a positive int64
COUNT_MASK = 0xFFFFFFFF


class Words(Protocol):
    def load(self, index: int) -> int: ...

    def cas(self, index: int, expected: int, desired: int) -> int: ...


class Indexable(Protocol):
    def __getitem__(self, index: int, /) -> int: ...


def update(
    words: Words, index: int, period: int, now_ms: int, inc: int = 1, view: Indexable | None = None
) -> None:
    """Count ``inc`` events at ``now_ms`` in the rate at ``index`` (two words). ``view``:
    where plain reads of the same words are cheaper than ``words.load`` (the mapping)."""
    number = now_ms // period
    tag = number & TAG_MASK
    slot = index + (number & 1)
    seen = words.load(slot) if view is None else view[slot]
    while True:
        if seen >> 32 == tag:
            count = (seen & COUNT_MASK) + inc
            new = seen + inc if count <= COUNT_MASK else (tag << 32) | COUNT_MASK
        else:  # the word still holds the period before last: this period starts now
            new = (tag << 32) | min(inc, COUNT_MASK)
        prev = words.cas(slot, seen, new)
        if prev == seen:
            return
        seen = prev


def read(words: Indexable, index: int, period: int, now_ms: int) -> int:
    """The rate at ``now_ms``: events per ``period``. ``words``: anything indexable (an
    aligned 8-byte read is atomic: a memoryview of the mapping will do)."""
    number = now_ms // period
    cur_word = words[index + (number & 1)]
    prev_word = words[index + ((number - 1) & 1)]
    cur = cur_word & COUNT_MASK if cur_word >> 32 == number & TAG_MASK else 0
    if prev_word >> 32 != (number - 1) & TAG_MASK:
        return cur
    remaining = period - (now_ms - number * period)
    return cur + (prev_word & COUNT_MASK) * remaining // period


class ListWords:
    """Words in a Python list (one process): for tests and tools."""

    __slots__ = ("values",)

    def __init__(self, n: int) -> None:
        self.values = [0] * n

    def load(self, index: int) -> int:
        return self.values[index]

    def __getitem__(self, index: int) -> int:
        return self.values[index]

    def cas(self, index: int, expected: int, desired: int) -> int:
        prev = self.values[index]
        if prev == expected:
            self.values[index] = desired
        return prev
