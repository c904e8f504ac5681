"""The log-linear histogram: bucket layout, percentile accuracy, merging, JSON round trip."""

import math
import random

import pytest

from lb.bench.hist import MAX_VALUE, N_BUCKETS, Histogram, bucket_bounds, bucket_index


@pytest.mark.parametrize(
    ("value", "index"),
    [
        (-5, 0),
        (0, 0),
        (1, 1),
        (255, 255),
        (256, 256),
        (257, 256),
        (258, 257),
        (511, 383),
        (512, 384),
        (MAX_VALUE, N_BUCKETS - 1),
        (MAX_VALUE * 4, N_BUCKETS - 1),
    ],
)
def test_bucket_index(value: int, index: int) -> None:
    assert bucket_index(value) == index


def test_buckets_tile_the_range_without_gaps_and_stay_narrow() -> None:
    expected_low = 0
    for i in range(N_BUCKETS):
        low, high = bucket_bounds(i)
        assert low == expected_low, i
        assert bucket_index(low) == i and bucket_index(high) == i
        if low >= 256:
            assert (high - low + 1) / low <= 1 / 128
        expected_low = high + 1
    assert expected_low - 1 == MAX_VALUE


def test_record_agrees_with_bucket_index() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        v = int(10 ** rng.uniform(0, 12))
        h = Histogram()
        h.record(v)
        assert h.counts[bucket_index(v)] == 1


@pytest.mark.parametrize("q", [50.0, 90.0, 99.0, 99.9])
def test_percentiles_within_a_bucket_of_the_truth(q: float) -> None:
    rng = random.Random(1)
    values = [int(rng.lognormvariate(13, 1.2)) for _ in range(20_000)]  # around 0.5 ms
    h = Histogram()
    for v in values:
        h.record(v)
    values.sort()
    truth = values[math.ceil(q / 100 * len(values)) - 1]
    got = h.percentile(q)
    assert truth <= got <= truth * (1 + 1 / 128) + 1


def test_exact_extremes_mean_and_empty() -> None:
    h = Histogram()
    assert h.percentile(50) == 0 and h.mean() == 0
    for v in (1000, 3000, 2000):
        h.record(v)
    assert (h.min, h.max, h.total, h.mean()) == (1000, 3000, 3, 2000)
    assert h.percentile(100) == 3000
    assert 1000 <= h.percentile(0.001) <= 1000 * (1 + 1 / 128)
    assert 2000 <= h.percentile(50) <= 2000 * (1 + 1 / 128)


def test_merge_and_json_round_trip() -> None:
    a, b, both = Histogram(), Histogram(), Histogram()
    rng = random.Random(3)
    for i in range(5000):
        v = rng.randrange(1, 10**9)
        (a if i % 2 else b).record(v)
        both.record(v)
    merged = Histogram.from_json(a.to_json())
    merged.merge(Histogram.from_json(b.to_json()))
    assert merged.counts == both.counts
    assert (merged.min, merged.max, merged.sum, merged.total) == (
        both.min,
        both.max,
        both.sum,
        both.total,
    )
    empty = Histogram()
    empty.merge(Histogram())
    assert empty.total == 0
    empty.merge(a)
    assert empty.min == a.min
