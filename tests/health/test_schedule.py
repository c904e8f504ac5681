"""Check intervals, timeouts and the slowstart ramp (HAProxy's documented rules)."""

from __future__ import annotations

import pytest

from lb.master.health.machine import Phase
from lb.master.health.schedule import Timing, first_check_offset_ms
from lb.master.health.slowstart import ramp_done, ramp_step_ms, ramp_weight

# (timing, phase, interval): "inter" when fully up; "fastinter" while changing or before the
# first check; "downinter" when fully down; "inter" whenever the specific one is unset.
INTERVALS = [
    (Timing(2000), Phase.UP, 2000),
    (Timing(2000), Phase.DOWN, 2000),
    (Timing(2000), None, 2000),
    (Timing(2000, fastinter=500, downinter=10_000), Phase.UP, 2000),
    (Timing(2000, fastinter=500, downinter=10_000), Phase.GOING_DOWN, 500),
    (Timing(2000, fastinter=500, downinter=10_000), Phase.GOING_UP, 500),
    (Timing(2000, fastinter=500, downinter=10_000), None, 500),
    (Timing(2000, fastinter=500, downinter=10_000), Phase.DOWN, 10_000),
    (Timing(2000, downinter=10_000), Phase.GOING_UP, 2000),
]


@pytest.mark.parametrize(("timing", "phase", "interval"), INTERVALS)
def test_interval(timing: Timing, phase: Phase | None, interval: int) -> None:
    assert timing.interval_ms(phase) == interval


# (timing, connect timeout, read timeout, total) — "timeout check" set: connect gets
# min(timeout connect, inter), the answer "timeout check"; unset: inter bounds it all.
TIMEOUTS = [
    (Timing(2000), 2000, None, 2000),
    (Timing(2000, timeout_connect=5000), 2000, None, 2000),
    (Timing(2000, timeout_connect=500, timeout_check=1000), 500, 1000, 1500),
    (Timing(2000, timeout_connect=5000, timeout_check=1000), 2000, 1000, 3000),
    (Timing(2000, timeout_check=300), 2000, 300, 2300),
]


@pytest.mark.parametrize(("timing", "connect", "read", "total"), TIMEOUTS)
def test_timeouts(timing: Timing, connect: int, read: int | None, total: int) -> None:
    assert timing.connect_timeout_ms() == connect
    assert timing.read_timeout_ms() == read
    assert timing.total_timeout_ms() == total


def test_first_checks_are_spread_over_one_interval() -> None:
    offsets = [first_check_offset_ms(i, 4, 2000) for i in range(4)]
    assert offsets == [0, 500, 1000, 1500]
    assert first_check_offset_ms(0, 1, 2000) == 0


# (weight, elapsed ms, slowstart ms, effective weight): linear from 1 to the full weight
RAMPS = [
    (100, 0, 10_000, 1),
    (100, 1, 10_000, 1),
    (100, 2_500, 10_000, 25),
    (100, 5_000, 10_000, 50),
    (100, 9_999, 10_000, 100),
    (100, 10_000, 10_000, 100),
    (100, 60_000, 10_000, 100),
    (1, 100, 10_000, 1),
    (3, 5_000, 10_000, 2),
    (0, 5_000, 10_000, 0),
    (10, 5_000, 0, 10),
    (10, -5, 1_000, 1),
]


@pytest.mark.parametrize(("weight", "elapsed", "slowstart", "expected"), RAMPS)
def test_ramp_weight(weight: int, elapsed: int, slowstart: int, expected: int) -> None:
    assert ramp_weight(weight, elapsed, slowstart) == expected


def test_ramp_end_and_steps() -> None:
    assert not ramp_done(999, 1000) and ramp_done(1000, 1000) and ramp_done(5, 0)
    assert ramp_step_ms(10_000, 2000) == 500  # 20 steps
    assert ramp_step_ms(60_000, 2000) == 1000  # at most a second apart
    assert ramp_step_ms(60_000, 300) == 300  # not slower than the checks
    assert ramp_step_ms(100, 2000) == 50  # and not a busy loop
