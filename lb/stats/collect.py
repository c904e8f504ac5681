"""Summing records: live slabs + retired - baseline, and folding a dead worker's slab.

Records are summed as whole vectors with one trick: every slot is a non-negative int64 and
no sum of a few of them reaches 2**63, so reading a record array as one little-endian big
integer and adding the integers adds every slot at once, without a carry from one slot
into the next. The maxima (and "last seen" timestamps) are then taken slot by slot.
"""

from __future__ import annotations

import time
from array import array

from lb.stats.area import SlabField, SlabState, StatsArea
from lb.stats.schema import GAUGE_SLOTS, MAX_SLOTS, Record


def combine(buffers: list[bytes] | list[memoryview], nobjects: int) -> list[int]:
    """Slot-wise sum of record arrays (maxima slot-wise max). Empty list: all zeros."""
    size = nobjects * Record.size
    if not buffers:
        return [0] * size
    total = 0
    for b in buffers:
        total += int.from_bytes(b, "little")
    values = memoryview(total.to_bytes(size * 8, "little")).cast("q").tolist()
    if len(buffers) > 1:
        views = [memoryview(b).cast("q") for b in buffers]
        step = Record.size
        for slot in MAX_SLOTS:
            values[slot::step] = list(map(max, *(v[slot::step].tolist() for v in views)))
    return values


def subtract(values: list[int], baseline: bytes) -> list[int]:
    """``values`` minus what ``clear counters all`` recorded (counters only ever grew since)."""
    if baseline.count(0) == len(baseline):
        return values
    base = memoryview(baseline).cast("q").tolist()
    return [v - b for v, b in zip(values, base, strict=True)]


def read_totals(area: StatsArea, nobjects: int) -> list[int]:
    """Every object's record summed over the live workers and the retired ones.

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
        buffers = [area.retired_bytes(nobjects)]
        buffers += [area.slab_bytes(s, nobjects) for s in area.live_slabs()]
        baseline = area.baseline_bytes(nobjects)
        totals = combine(buffers, nobjects)  # read in place: no copy of the slabs
        for b in buffers:
            b.release()
        if area.seq == seq:
            return subtract(totals, baseline)
    raise RuntimeError("statistics: the master kept the shared region busy")


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
        merged = combine([retired, bytes(dead)], nobjects)
        area.write_records(area.retired_index(0), _pack(merged))
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
            area.write_records(area.baseline_index(0), _pack(totals))
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
