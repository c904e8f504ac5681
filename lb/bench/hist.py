"""A log-linear latency histogram in the manner of HdrHistogram, cheap enough for the hot path.

Values are integer nanoseconds. Below 256 ns every value has its own bucket; above, each
power of two is split into 128 equal buckets, so a bucket is never wider than 1/128 of its
lower bound: a percentile read from it is within 0.8 % of the true value. Recording is a
``bit_length``, a shift and a list increment. Histograms from several processes merge by
adding counts; they travel as sparse ``[index, count]`` pairs.
"""

from __future__ import annotations

import math
from typing import Any

_SUB_BITS = 8  # 2**8 = 256 exact buckets, then 128 per power of two
_HALF = 1 << (_SUB_BITS - 1)
_MAX_BITS = 42  # 2**42 ns ≈ 73 minutes: anything longer is clamped to it
MAX_VALUE = (1 << _MAX_BITS) - 1
N_BUCKETS = ((_MAX_BITS - _SUB_BITS + 1) << (_SUB_BITS - 1)) + _HALF


def bucket_index(v: int) -> int:
    """The bucket of a value (ns): negative values count as 0, huge ones as MAX_VALUE."""
    if v < (1 << _SUB_BITS):
        return v if v > 0 else 0
    if v > MAX_VALUE:
        v = MAX_VALUE
    k = v.bit_length() - _SUB_BITS
    return (k << (_SUB_BITS - 1)) + (v >> k)


def bucket_bounds(idx: int) -> tuple[int, int]:
    """The lowest and highest value (ns) that fall in bucket idx."""
    if idx < (1 << _SUB_BITS):
        return idx, idx
    k = (idx >> (_SUB_BITS - 1)) - 1
    m = idx - (k << (_SUB_BITS - 1))
    return m << k, ((m + 1) << k) - 1


class Histogram:
    """Counts of nanosecond values in log-linear buckets, with the exact min, max and sum."""

    __slots__ = ("counts", "max", "min", "sum", "total")

    def __init__(self) -> None:
        self.counts = [0] * N_BUCKETS
        self.total = 0
        self.sum = 0
        self.min = 0
        self.max = 0

    def record(self, v: int) -> None:
        # bucket_index inlined: this runs once per response
        if v < 256:
            if v < 0:
                v = 0
            self.counts[v] += 1
        else:
            if v > MAX_VALUE:
                v = MAX_VALUE
            k = v.bit_length() - _SUB_BITS
            self.counts[(k << (_SUB_BITS - 1)) + (v >> k)] += 1
        if self.total == 0 or v < self.min:
            self.min = v
        if v > self.max:
            self.max = v
        self.total += 1
        self.sum += v

    def merge(self, other: Histogram) -> None:
        if other.total == 0:
            return
        c = self.counts
        for i, n in enumerate(other.counts):
            if n:
                c[i] += n
        self.min = other.min if self.total == 0 else min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.total += other.total
        self.sum += other.sum

    def percentile(self, q: float) -> int:
        """The value (ns) at or below which q percent of the recorded values lie.

        The answer is the highest value of the bucket that holds the rank, clamped to
        the exact min and max: never lower than the true percentile, at most 0.8 % above.
        """
        if self.total == 0:
            return 0
        if q >= 100:
            return self.max
        rank = max(1, math.ceil(q / 100 * self.total))
        seen = 0
        for i, n in enumerate(self.counts):
            if n:
                seen += n
                if seen >= rank:
                    return min(max(bucket_bounds(i)[1], self.min), self.max)
        return self.max

    def mean(self) -> float:
        return self.sum / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": [[i, n] for i, n in enumerate(self.counts) if n],
            "total": self.total,
            "sum": self.sum,
            "min": self.min,
            "max": self.max,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Histogram:
        h = cls()
        for i, n in d["counts"]:
            h.counts[int(i)] += int(n)
        h.total, h.sum, h.min, h.max = int(d["total"]), int(d["sum"]), int(d["min"]), int(d["max"])
        return h
