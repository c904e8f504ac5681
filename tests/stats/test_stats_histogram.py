"""Latency histograms: fixed log-scale buckets, percentiles, Prometheus buckets."""

from __future__ import annotations

from bisect import bisect_left
from itertools import pairwise

import pytest

from lb.stats.histogram import cumulative_exported, percentiles
from lb.stats.schema import BOUNDS, EXPORTED_BOUNDS, NBUCKETS, Record


def test_bounds_are_r10_from_10us_to_100s() -> None:
    assert BOUNDS[0] == 1e-5
    assert BOUNDS[-1] == 100.0
    assert NBUCKETS == len(BOUNDS) + 1 == 72
    assert all(b < c for b, c in pairwise(BOUNDS))
    ratios = [c / b for b, c in pairwise(BOUNDS)]
    assert max(ratios) < 1.3  # about 26 % per step: percentiles within a few per cent


def test_exported_bounds_are_1_25_5_per_decade() -> None:
    exported = [BOUNDS[i] for i in EXPORTED_BOUNDS]
    assert exported[:6] == [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005]
    assert exported[-3:] == [25.0, 50.0, 100.0]


@pytest.mark.parametrize(
    ("value", "bucket"),
    [
        (0.0, 0),
        (1e-5, 0),  # inclusive upper bound, as Prometheus' le
        (1.0001e-5, 1),
        (0.001, BOUNDS.index(0.001)),
        (0.0010001, BOUNDS.index(0.001) + 1),
        (100.0, len(BOUNDS) - 1),
        (1000.0, len(BOUNDS)),
    ],
)
def test_a_value_lands_in_the_first_bucket_whose_bound_holds_it(value: float, bucket: int) -> None:
    assert bisect_left(BOUNDS, value) == bucket


def _counts(values: list[float]) -> list[int]:
    counts = [0] * NBUCKETS
    for v in values:
        counts[bisect_left(BOUNDS, v)] += 1
    return counts


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.002] * 100, [0.002, 0.002, 0.002]),
        ([i / 1000 for i in range(1, 1001)], [0.5, 0.9, 0.99]),  # 1 ms … 1 s, uniform
        ([0.001] * 99 + [0.5], [0.001, 0.001, 0.001]),
        ([0.001] * 98 + [0.5] * 2, [0.001, 0.001, 0.5]),
    ],
)
def test_percentiles_are_within_one_bucket(values: list[float], expected: list[float]) -> None:
    got = percentiles(_counts(values), ceiling=max(values))
    for g, e in zip(got, expected, strict=True):
        assert e / 1.27 <= g <= e * 1.27, (got, expected)


def test_percentiles_of_nothing_are_minus_one() -> None:
    assert percentiles([0] * NBUCKETS) == [-1.0, -1.0, -1.0]


def test_the_ceiling_bounds_the_top_bucket() -> None:
    counts = _counts([500.0])  # beyond the last bound: the maximum closes the bucket
    (p50,) = percentiles(counts, [0.5], ceiling=500.0)
    assert 100.0 < p50 <= 500.0
    assert percentiles(_counts([0.003]), [0.99], ceiling=0.0021) == [0.0021]


def test_cumulative_buckets_end_with_inf_equal_to_the_count() -> None:
    counts = _counts([0.00005, 0.0003, 0.002, 0.002, 7.0, 300.0])
    cum = cumulative_exported(counts)
    assert cum[-1] == (float("inf"), 6)
    assert [n for _, n in cum] == sorted(n for _, n in cum)
    le = dict(cum)
    assert le[0.0001] == 1
    assert le[0.0005] == 2
    assert le[0.0025] == 4
    assert le[10.0] == 5
    assert le[100.0] == 5


def test_record_layout_has_four_histograms_after_the_scalars() -> None:
    assert Record.HIST_STRIDE == NBUCKETS + 1
    assert Record.size == Record.HIST + 4 * Record.HIST_STRIDE
    assert Record.names[Record.HIST] == "qtime_sum"
    assert Record.names[Record.HIST + 3 * Record.HIST_STRIDE] == "ttime_sum"
