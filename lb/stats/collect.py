"""Summing records: live slabs + retired - baseline, folding a dead worker's slab, and the
published aggregate (the sum the master makes twice a second, which workers read instead of
summing every slab per request).

Records are summed as whole vectors with one trick: every slot is a non-negative int64 and
no sum of a few of them reaches 2**63, so reading a record array as one little-endian big
integer and adding the integers adds every slot at once, without a carry from one slot
into the next. The maxima (and "last seen" timestamps) are then taken slot by slot.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Sequence

from lb.stats.area import SlabField, SlabState, StatsArea
from lb.stats.schema import GAUGE_SLOTS, MAX_SLOTS, Record


def combine_bytes(buffers: Sequence[bytes | memoryview], nobjects: int) -> bytearray:
    """Slot-wise sum of record arrays (maxima slot-wise max), as a record array."""
    size = nobjects * Record.size
    total = 0
    for b in buffers:
        total += int.from_bytes(b, "little")
    out = bytearray(total.to_bytes(size * 8, "little"))
    if len(buffers) > 1:
        view = memoryview(out).cast("q")
        views = [memoryview(b).cast("q") for b in buffers]
        step = Record.size
        for slot in MAX_SLOTS:
            view[slot::step] = array("q", map(max, *(v[slot::step] for v in views)))
        view.release()
    return out


def combine(buffers: Sequence[bytes | memoryview], nobjects: int) -> list[int]:
    """Slot-wise sum of record arrays (maxima slot-wise max). Empty list: all zeros."""
    return memoryview(combine_bytes(buffers, nobjects)).cast("q").tolist()


def subtract(values: bytearray, baseline: bytes) -> bytearray:
    """``values`` minus what ``clear counters all`` recorded (counters only ever grew since);
    an empty baseline: none recorded."""
    if not baseline:
        return values
    base = memoryview(baseline).cast("q").tolist()
    now = memoryview(values).cast("q").tolist()
    return bytearray(array("q", [v - b for v, b in zip(now, base, strict=True)]).tobytes())


def read_totals_bytes(area: StatsArea, nobjects: int) -> bytearray:
    """Every object's record summed over the live workers and the retired ones, as a record
    array (what the master publishes).

    Retries while the master is folding a slab or clearing (the sequence number is odd or
    moved), so a reader never counts a dead worker twice or not at all.
    """
    nobjects = min(nobjects, area.max_objects)
    for attempt in range(1000):
        seq = area.seq
        if seq & 1:
            if attempt > 10:
                time.sleep(0.0005)
            continue
        views = [area.retired_bytes(nobjects)]
        views += [area.slab_bytes(s, nobjects) for s in area.live_slabs()]
        # one memcpy per slab, as the workers write them (int.from_bytes reads byte by byte,
        # and could see a counter that a flush is rewriting half old and half new)
        buffers = [bytes(v) for v in views]
        for v in views:
            v.release()
        baseline = area.baseline_bytes(nobjects)
        if area.seq == seq:
            return subtract(combine_bytes(buffers, nobjects), baseline)
    raise RuntimeError("statistics: the master kept the shared region busy")


def read_totals(area: StatsArea, nobjects: int) -> list[int]:
    """``read_totals_bytes`` as a list of ints, indexed by id x Record.size + slot."""
    return memoryview(read_totals_bytes(area, nobjects)).cast("q").tolist()


# --------------------------------------------------------------------------- the aggregate

# How old a published aggregate may be and still be shown. The master publishes every
# PUBLISH_INTERVAL (lb.stats.master), so a fresh one is at most ~0.65 s old; an older one means
# the master is busy (a long reload, a stall) and the reader sums the slabs itself instead: the
# page is then slower, never staler.
MAX_AGE_MS = 1000


def publish_aggregate(
    area: StatsArea, totals: bytes | bytearray, nobjects: int, stamp_ms: int
) -> None:
    """Publish ``totals`` (what ``read_totals_bytes`` returned when it started at ``stamp_ms``,
    CLOCK_MONOTONIC) for the workers to read."""
    area.write_aggregate(stamp_ms, min(nobjects, area.max_objects), totals)


def read_published(
    area: StatsArea, nobjects: int, max_age_ms: int = MAX_AGE_MS
) -> tuple[int, list[int]] | None:
    """The published sums of the first ``nobjects`` records and their age in ms, None when
    there is none younger than ``max_age_ms``. Objects registered after the publication (a
    reload that added some) read as zeros until the next one: they had counted nothing yet,
    or nothing older than the publication's age."""
    nobjects = min(nobjects, area.max_objects)
    found = area.read_aggregate(nobjects)
    if found is None:
        return None
    stamp, count, data = found
    age = int(time.monotonic() * 1000) - stamp
    if not 0 <= age <= max_age_ms:
        return None
    values = memoryview(data).cast("q").tolist()
    if count < nobjects:
        values += [0] * ((nobjects - count) * Record.size)
    return age, values


# --------------------------------------------------------------------------- master side


def fold(area: StatsArea, slab: int, nobjects: int) -> None:
    """Add a dead worker's slab to the retired accumulator and free the slab.

    Gauges are not folded: a dead worker has nothing queued any more.
    """
    nobjects = min(nobjects, area.max_objects)
    view = area.slab_bytes(slab, nobjects)
    dead = bytearray(view)
    view.release()
    slots = memoryview(dead).cast("q")
    step = Record.size
    for slot in GAUGE_SLOTS:
        slots[slot::step] = memoryview(bytes(len(slots[slot::step]) * 8)).cast("q")
    slots.release()
    area.begin_write()
    try:
        retired = bytes(area.retired_bytes(nobjects))
        area.write_records(area.retired_index(0), combine_bytes([retired, bytes(dead)], nobjects))
        area.zero_slab(slab, nobjects)
        area.set_table(slab, SlabField.STATE, SlabState.FREE)
        area.set_table(slab, SlabField.PID, 0)
    finally:
        area.end_write()


def clear(area: StatsArea, nobjects: int, everything: bool) -> None:
    """``clear counters``: maxima restart from now; ``all``: every counter too (baseline)."""
    nobjects = min(nobjects, area.max_objects)
    area.begin_write()
    try:
        area.clear_maxima(nobjects)
        retired = bytearray(area.retired_bytes(nobjects))
        view = memoryview(retired).cast("q")
        step = Record.size
        for slot in MAX_SLOTS:
            if slot != Record.LASTSESS:
                view[slot::step] = memoryview(bytes(len(view[slot::step]) * 8)).cast("q")
        view.release()
        area.write_records(area.retired_index(0), bytes(retired))
        if everything:
            buffers = [bytes(area.retired_bytes(nobjects))]
            buffers += [bytes(area.slab_bytes(s, nobjects)) for s in area.live_slabs()]
            totals = combine(buffers, nobjects)
            step = Record.size
            for slot in (*MAX_SLOTS, *GAUGE_SLOTS):
                totals[slot::step] = [0] * nobjects
            area.write_baseline(_pack(totals))
        area.bump_clear_epoch()  # workers reset their own maxima at their next flush
    finally:
        area.end_write()


def _pack(values: list[int]) -> bytes:
    return array("q", values).tobytes()


def claim_slab(area: StatsArea, slot: int, generation: int) -> int:
    """A free slab for a worker about to start (-1: every slab is taken)."""
    for s in range(area.geometry.slabs):
        if area.table(s, SlabField.STATE) == SlabState.FREE:
            area.set_table(s, SlabField.PID, 0)
            area.set_table(s, SlabField.SLOT, slot)
            area.set_table(s, SlabField.GENERATION, generation)
            area.set_table(s, SlabField.STARTED_MS, int(time.time() * 1000))
            area.set_table(s, SlabField.FLUSHED_MS, 0)
            area.set_table(s, SlabField.STATE, SlabState.LIVE)
            return s
    return -1
