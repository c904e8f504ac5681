"""The shared rate counter (lb.sticktable.freq): HAProxy's freq_ctr semantics, driven by an
injected clock, on list-backed words and on the real shared counters."""

from __future__ import annotations

import mmap
import os

import pytest

from lb._native import SharedCounters
from lb.sticktable import freq

P = 10_000  # a 10 s period, in ms
T0 = 1_000 * P  # the start of some period


@pytest.mark.parametrize(
    ("events", "now", "rate"),
    [
        ([], T0, 0),
        ([T0], T0, 1),
        ([T0, T0 + 1, T0 + 9_999], T0 + 9_999, 3),
        # next period: the previous count, weighted by what is left of this period
        ([T0] * 10, T0 + P, 10),
        ([T0] * 10, T0 + P + P // 2, 5),
        ([T0] * 10, T0 + P + 9_999, 0),  # 10 * 1 / 10000 rounds down
        ([T0] * 10 + [T0 + P + 1] * 3, T0 + P + P // 4, 3 + 7),  # 10 * 3/4 = 7.5 → 7
        # two periods later the old count is gone
        ([T0] * 10, T0 + 2 * P, 0),
        ([T0] * 10 + [T0 + 2 * P], T0 + 2 * P, 1),
        # an event long after: the word of the same parity is reused, not added to
        ([T0] * 4, T0 + 10 * P, 0),
        ([T0] * 4 + [T0 + 10 * P], T0 + 10 * P + 1, 1),
    ],
)
def test_rate_table(events: list[int], now: int, rate: int) -> None:
    words = freq.ListWords(2)
    for t in events:
        freq.update(words, 0, P, t)
    assert freq.read(words, 0, P, now) == rate


def test_increment_by_more_than_one_and_saturation() -> None:
    words = freq.ListWords(2)
    freq.update(words, 0, P, T0, 5)
    assert freq.read(words, 0, P, T0) == 5
    freq.update(words, 0, P, T0, freq.COUNT_MASK)  # saturates instead of spilling into the tag
    assert freq.read(words, 0, P, T0) == freq.COUNT_MASK
    freq.update(words, 0, P, T0)
    assert freq.read(words, 0, P, T0) == freq.COUNT_MASK


def test_words_stay_positive_int64_for_huge_clocks() -> None:
    words = freq.ListWords(2)
    now = (1 << 45) + 123  # far beyond 31 bits of period numbers: the tag wraps, no overflow
    freq.update(words, 0, 1, now)
    assert all(0 <= w < (1 << 63) for w in words.values)
    assert freq.read(words, 0, 1, now) == 1


@pytest.mark.parametrize("native", [True, False], ids=["native", "python"])
def test_on_shared_counters(native: bool) -> None:
    fd = os.memfd_create("lb-test-freq", os.MFD_CLOEXEC)
    os.ftruncate(fd, 64)
    mm = mmap.mmap(fd, 64)
    c = SharedCounters(mm, fd, native=native)
    try:
        for _ in range(7):
            freq.update(c, 2, P, T0 + 5)
        view = memoryview(mm).cast("q")
        assert freq.read(view, 2, P, T0 + 6) == 7
        assert freq.read(view, 2, P, T0 + P) == 7
        view.release()
        assert c.load(0) == 0 and c.load(1) == 0 and c.load(4) == 0  # its two words only
    finally:
        c.close()
        mm.close()
        os.close(fd)
