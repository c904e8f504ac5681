"""Reading the latency histograms: percentiles, averages, Prometheus buckets."""

from __future__ import annotations

from collections.abc import Sequence

from lb.stats.schema import BOUNDS, EXPORTED_BOUNDS, NBUCKETS, Record

PERCENTILES = (0.5, 0.9, 0.99)


def buckets(values: Sequence[int], base: int, phase: int) -> list[int]:
    """Bucket counts of histogram ``phase`` of the record starting at ``values[base]``."""
    start = base + Record.HIST + phase * Record.HIST_STRIDE + 1
    return list(values[start : start + NBUCKETS])


def hist_sum_us(values: Sequence[int], base: int, phase: int) -> int:
    return values[base + Record.HIST + phase * Record.HIST_STRIDE]


def percentiles(
    counts: Sequence[int], quantiles: Sequence[float] = PERCENTILES, ceiling: float = 0.0
) -> list[float]:
    """Quantiles in seconds, interpolated linearly inside a bucket; -1.0 without samples.

    ``ceiling`` (the largest value observed, when known) bounds the answers: the top
    bucket has no upper bound, and no quantile can exceed the maximum.
    """
    total = sum(counts)
    if total <= 0:
        return [-1.0] * len(quantiles)
    out: list[float] = []
    for q in quantiles:
        rank = q * total
        seen = 0
        value = BOUNDS[-1]
        for i, n in enumerate(counts):
            if n and seen + n >= rank:
                lower = BOUNDS[i - 1] if i > 0 else 0.0
                upper = BOUNDS[i] if i < len(BOUNDS) else max(ceiling, BOUNDS[-1])
                value = lower + (upper - lower) * max(0.0, rank - seen) / n
                break
            seen += n
        if ceiling > 0.0:
            value = min(value, ceiling)
        out.append(value)
    return out


def cumulative_exported(counts: Sequence[int]) -> list[tuple[float, int]]:
    """(le, cumulative count) for the exported bounds, then (+inf, total)."""
    out: list[tuple[float, int]] = []
    running = 0
    position = 0
    for i in EXPORTED_BOUNDS:
        running += sum(counts[position : i + 1])
        position = i + 1
        out.append((BOUNDS[i], running))
    out.append((float("inf"), running + sum(counts[position:])))
    return out
