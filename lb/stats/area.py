"""The statistics part of the shared region: slabs, retired accumulator, maxima, history ring.

Layout (int64 slots, little-endian; each part starts on a page)::

    header        geometry (8 slots), then the live words below
    slab table    per slab: state, pid, slot, generation, started (wall ms), flushed (wall ms)
    slabs         per slab: max_objects records of Record.size slots (one writer: its worker)
    retired       the folded slabs of workers that exited (written by the master)
    baseline      what ``clear counters all`` subtracts (written by the master)
    aggregate     every record summed (live + retired - baseline), published by the master
                  twice a second: what a worker's page and /metrics read (one copy, no sum)
    maxima        per object: MAXIMA fields (written by the master, once a second)
    ring stamps   wall-clock ms of each ring entry
    ring          ring_capacity entries x max_objects x RING fields (the master, once a second)
    info          length-prefixed msgpack blob: process, workers, VRRP (the master)

Object ids index every per-object part; the master hands them out by name and never reuses
one (lb.stats.objects), so a counter keeps its value across reloads.

Readers never block writers. A worker's slab has one writer and only grows. What the master
changes in several places at once (folding a slab into retired, clearing counters, the info
blob) is bracketed by a sequence number: odd while writing; a reader that saw it odd or
changed reads again. The aggregate has its own sequence number, so that publishing it never
makes a reader of the slabs retry, and a reader of the aggregate never waits on a fold.
"""

from __future__ import annotations

import mmap
import struct
import time
from array import array
from dataclasses import dataclass
from enum import IntEnum

from lb.stats.schema import Record

PAGE = 4096
_GEOMETRY = struct.Struct("<8Q")
_GEOMETRY_MAGIC = 0x4C42535441545333  # "LBSTATS3"


class SlabState(IntEnum):
    FREE = 0
    LIVE = 1


class SlabField(IntEnum):
    STATE = 0
    PID = 1
    SLOT = 2
    GENERATION = 3
    STARTED_MS = 4
    FLUSHED_MS = 5  # written by the worker at each flush
    EPOCH = 6  # the clear epoch the worker last honoured (written by the worker)


SLAB_TABLE_FIELDS = 8


class Maxima(IntEnum):
    """Highest values since the master started, sampled once a second (HAProxy's *max)."""

    SMAX = 0
    QMAX = 1
    RATE_MAX = 2
    REQ_RATE_MAX = 3
    CONN_RATE_MAX = 4


MAXIMA_FIELDS = 8


class Ring(IntEnum):
    """What one history-ring entry keeps per object. Totals are cumulative: any two entries
    give a rate. Percentiles cover the ten seconds before the entry; averages are HAProxy's
    "over the last 1024 requests" (a sliding average that keeps its value when idle)."""

    STOT = 0
    REQ_TOT = 1
    BIN = 2
    BOUT = 3
    ERRORS = 4  # ereq + econ + eresp
    HRSP_5XX = 5
    SCUR = 6
    QCUR = 7
    CONN_TOT = 8
    DENIED = 9  # dreq + dresp
    RT_P50 = 10  # response time percentiles, µs (-1: no sample)
    RT_P90 = 11
    RT_P99 = 12
    TT_P50 = 13  # total time percentiles, µs
    TT_P90 = 14
    TT_P99 = 15
    QT_AVG = 16  # µs
    CT_AVG = 17
    RT_AVG = 18
    TT_AVG = 19


RING_FIELDS = 20

# live words of the header (slot index from the start of the statistics part)
_SEQ = 8
_RING_HEAD = 9
_CLEAR_EPOCH = 10
_INFO_SEQ = 11
_INFO_LEN = 12
_AGG_SEQ = 13  # odd while the master rewrites the aggregate
_AGG_STAMP = 14  # CLOCK_MONOTONIC ms of the sums it holds (0: never published)
_AGG_OBJECTS = 15  # records it holds
_BASELINE_SET = 16  # 1 once ``clear counters all`` wrote a baseline (else: all zeros)


def _pages(nbytes: int) -> int:
    return -(-nbytes // PAGE) * PAGE


@dataclass(frozen=True, slots=True)
class StatsGeometry:
    """Capacities, fixed for the life of a region."""

    max_objects: int = 1024
    slabs: int = 16
    ring_capacity: int = 300  # seconds of history
    info_capacity: int = 1 << 16  # bytes
    record: int = Record.size

    @classmethod
    def for_load(cls, objects: int, workers: int) -> StatsGeometry:
        """Room for reloads that add objects, and for old workers draining beside new ones."""
        return cls(max_objects=max(1024, 4 * objects), slabs=max(16, 4 * workers + 4))

    # byte offsets from the start of the part
    @property
    def slab_table(self) -> int:
        return PAGE

    @property
    def slab_bytes(self) -> int:
        return _pages(self.max_objects * self.record * 8)

    @property
    def slabs_at(self) -> int:
        return self.slab_table + _pages(self.slabs * SLAB_TABLE_FIELDS * 8)

    @property
    def retired_at(self) -> int:
        return self.slabs_at + self.slabs * self.slab_bytes

    @property
    def baseline_at(self) -> int:
        return self.retired_at + self.slab_bytes

    @property
    def aggregate_at(self) -> int:
        return self.baseline_at + self.slab_bytes

    @property
    def maxima_at(self) -> int:
        return self.aggregate_at + self.slab_bytes

    @property
    def ring_stamps_at(self) -> int:
        return self.maxima_at + _pages(self.max_objects * MAXIMA_FIELDS * 8)

    @property
    def ring_entry_bytes(self) -> int:
        return self.max_objects * RING_FIELDS * 8

    @property
    def ring_at(self) -> int:
        return self.ring_stamps_at + _pages(self.ring_capacity * 8)

    @property
    def info_at(self) -> int:
        return self.ring_at + _pages(self.ring_capacity * self.ring_entry_bytes)

    @property
    def size(self) -> int:
        return self.info_at + _pages(self.info_capacity)

    def write(self, mm: mmap.mmap, offset: int) -> None:
        _GEOMETRY.pack_into(
            mm,
            offset,
            _GEOMETRY_MAGIC,
            self.max_objects,
            self.slabs,
            self.ring_capacity,
            self.info_capacity,
            self.record,
            0,
            0,
        )

    @classmethod
    def read(cls, mm: mmap.mmap, offset: int) -> StatsGeometry:
        magic, objects, slabs, ring, info, record, _a, _b = _GEOMETRY.unpack_from(mm, offset)
        if magic != _GEOMETRY_MAGIC or record != Record.size:
            raise RuntimeError("shared memory statistics layout mismatch")
        return cls(objects, slabs, ring, info, record)


class StatsArea:
    """Typed access to the statistics part. Slot indexes below are int64 indexes into ``q``."""

    def __init__(self, mm: mmap.mmap, offset: int) -> None:
        self.mm = mm
        self.offset = offset
        self.geometry = g = StatsGeometry.read(mm, offset)
        self._view = memoryview(mm)
        self.q = self._view.cast("q")
        base = offset // 8
        self._hdr = base
        self._table = base + g.slab_table // 8
        self._slabs = base + g.slabs_at // 8
        self._slab_stride = g.slab_bytes // 8
        self._retired = base + g.retired_at // 8
        self._baseline = base + g.baseline_at // 8
        self._aggregate = base + g.aggregate_at // 8
        self._maxima = base + g.maxima_at // 8
        self._stamps = base + g.ring_stamps_at // 8
        self._ring = base + g.ring_at // 8
        self._ring_stride = g.ring_entry_bytes // 8
        self._info = offset + g.info_at  # bytes
        self.record = g.record
        self.max_objects = g.max_objects

    def close(self) -> None:
        self.q.release()
        self._view.release()

    # ------------------------------------------------------------------ header words

    def _get(self, word: int) -> int:
        return self.q[self._hdr + word]

    def _set(self, word: int, value: int) -> None:
        self.q[self._hdr + word] = value

    @property
    def seq(self) -> int:
        return self._get(_SEQ)

    def begin_write(self) -> None:
        """The master starts changing several parts at once: readers will retry."""
        self._set(_SEQ, self._get(_SEQ) + 1)

    def end_write(self) -> None:
        self._set(_SEQ, self._get(_SEQ) + 1)

    @property
    def ring_head(self) -> int:
        """Entries written since the region was created (the newest is ``head - 1``)."""
        return self._get(_RING_HEAD)

    @property
    def clear_epoch(self) -> int:
        return self._get(_CLEAR_EPOCH)

    def bump_clear_epoch(self) -> None:
        self._set(_CLEAR_EPOCH, self._get(_CLEAR_EPOCH) + 1)

    # ------------------------------------------------------------------ slab table

    def table(self, slab: int, field: SlabField) -> int:
        return self.q[self._table + slab * SLAB_TABLE_FIELDS + field]

    def set_table(self, slab: int, field: SlabField, value: int) -> None:
        self.q[self._table + slab * SLAB_TABLE_FIELDS + field] = value

    def live_slabs(self) -> list[int]:
        return [
            s
            for s in range(self.geometry.slabs)
            if self.table(s, SlabField.STATE) == SlabState.LIVE
        ]

    # ------------------------------------------------------------------ records

    def slab_index(self, slab: int, obj: int) -> int:
        """Slot index of object ``obj``'s record in slab ``slab``."""
        return self._slabs + slab * self._slab_stride + obj * self.record

    def retired_index(self, obj: int) -> int:
        return self._retired + obj * self.record

    def baseline_index(self, obj: int) -> int:
        return self._baseline + obj * self.record

    def slab_bytes(self, slab: int, nobjects: int) -> memoryview:
        """A view (no copy) of the slab's first ``nobjects`` records: it changes as the
        worker flushes; release it before closing the region."""
        start = self.slab_index(slab, 0) * 8
        return self._view[start : start + nobjects * self.record * 8]

    def retired_bytes(self, nobjects: int) -> memoryview:
        start = self._retired * 8
        return self._view[start : start + nobjects * self.record * 8]

    def baseline_bytes(self, nobjects: int) -> bytes:
        """What to subtract; empty while no ``clear counters all`` wrote any (the common
        case: no copy of a few MB to find out that it is all zeros)."""
        if not self._get(_BASELINE_SET):
            return b""
        start = self._baseline * 8
        return self.mm[start : start + nobjects * self.record * 8]

    def write_baseline(self, data: bytes | bytearray) -> None:
        """Under ``begin_write``: readers take the flag and the records together."""
        self.write_records(self._baseline, data)
        self._set(_BASELINE_SET, 1)

    def write_records(self, index: int, data: bytes | bytearray | array[int]) -> None:
        """Copy ``data`` (int64 records) to slot ``index``: one memcpy, so on x86-64 every
        aligned 8-byte slot changes at once and a reader never sees half a counter."""
        view = memoryview(data).cast("B")
        start = index * 8
        self.mm[start : start + view.nbytes] = view

    def zero_slab(self, slab: int, nobjects: int) -> None:
        start = self.slab_index(slab, 0) * 8
        self.mm[start : start + nobjects * self.record * 8] = bytes(nobjects * self.record * 8)

    # ------------------------------------------------------------------ aggregate

    def write_aggregate(self, stamp_ms: int, nobjects: int, data: bytes | bytearray) -> None:
        """Publish the summed records (``nobjects`` of them), taken at ``stamp_ms``
        (CLOCK_MONOTONIC, the same clock in every process)."""
        self._set(_AGG_SEQ, self._get(_AGG_SEQ) + 1)
        start = self._aggregate * 8
        self.mm[start : start + len(data)] = data
        self._set(_AGG_OBJECTS, nobjects)
        self._set(_AGG_STAMP, stamp_ms)
        self._set(_AGG_SEQ, self._get(_AGG_SEQ) + 1)

    def read_aggregate(self, nobjects: int) -> tuple[int, int, bytes] | None:
        """A copy of the first ``nobjects`` published records (fewer if fewer were published)
        with their stamp and count; None when never published or the master kept rewriting.

        One memcpy under the sequence number: a reader never sees half of a publication.
        """
        for attempt in range(60):
            before = self._get(_AGG_SEQ)
            if before & 1:  # a publication is one memcpy of a few MB: well under a ms
                if attempt > 10:
                    time.sleep(0.0001)
                continue
            stamp = self._get(_AGG_STAMP)
            count = min(nobjects, self._get(_AGG_OBJECTS))
            start = self._aggregate * 8
            data = self.mm[start : start + count * self.record * 8]
            if self._get(_AGG_SEQ) == before:
                return (stamp, count, data) if stamp else None
        return None

    # ------------------------------------------------------------------ maxima

    def maxima(self, obj: int) -> list[int]:
        i = self._maxima + obj * MAXIMA_FIELDS
        return self.q[i : i + MAXIMA_FIELDS].tolist()

    def maxima_values(self, nobjects: int) -> list[int]:
        """Every object's maxima back to back (nobjects x MAXIMA_FIELDS)."""
        return self.q[self._maxima : self._maxima + nobjects * MAXIMA_FIELDS].tolist()

    def all_maxima(self, nobjects: int) -> list[list[int]]:
        flat = self.q[self._maxima : self._maxima + nobjects * MAXIMA_FIELDS].tolist()
        return [flat[i : i + MAXIMA_FIELDS] for i in range(0, len(flat), MAXIMA_FIELDS)]

    def set_maxima(self, obj: int, values: list[int]) -> None:
        i = self._maxima + obj * MAXIMA_FIELDS
        for k, v in enumerate(values):
            self.q[i + k] = v

    def clear_maxima(self, nobjects: int) -> None:
        start = self._maxima * 8
        self.mm[start : start + nobjects * MAXIMA_FIELDS * 8] = bytes(nobjects * MAXIMA_FIELDS * 8)

    # ------------------------------------------------------------------ ring

    def ring_entry(self, position: int, nobjects: int) -> tuple[int, list[int]]:
        """Entry number ``position`` (0 = oldest ever): its wall-clock ms and values."""
        cap = self.geometry.ring_capacity
        k = position % cap
        start = self._ring + k * self._ring_stride
        return self.q[self._stamps + k], self.q[start : start + nobjects * RING_FIELDS].tolist()

    def ring_values(self, position: int, ident: int) -> tuple[int, list[int]]:
        """One object's values in entry ``position``, with the entry's stamp (0 = none)."""
        k = position % self.geometry.ring_capacity
        start = self._ring + k * self._ring_stride + ident * RING_FIELDS
        return self.q[self._stamps + k], self.q[start : start + RING_FIELDS].tolist()

    def write_ring(self, stamp_ms: int, values: list[int]) -> None:
        """Append one entry (values: nobjects x RING_FIELDS) and publish it."""
        head = self.ring_head
        k = head % self.geometry.ring_capacity
        start = self._ring + k * self._ring_stride
        self.q[self._stamps + k] = 0  # a reader racing the overwrite sees "no entry"
        self.q[start : start + len(values)] = memoryview(
            struct.pack(f"<{len(values)}q", *values)
        ).cast("q")
        self.q[self._stamps + k] = stamp_ms
        self._set(_RING_HEAD, head + 1)

    # ------------------------------------------------------------------ info blob

    def write_info(self, blob: bytes) -> None:
        if len(blob) > self.geometry.info_capacity:
            raise ValueError(f"statistics info blob too large ({len(blob)} bytes)")
        self._set(_INFO_SEQ, self._get(_INFO_SEQ) + 1)
        self.mm[self._info : self._info + len(blob)] = blob
        self._set(_INFO_LEN, len(blob))
        self._set(_INFO_SEQ, self._get(_INFO_SEQ) + 1)

    def read_info(self) -> bytes:
        for _ in range(1000):
            before = self._get(_INFO_SEQ)
            if before & 1:
                continue
            length = self._get(_INFO_LEN)
            blob = self.mm[self._info : self._info + length]
            if self._get(_INFO_SEQ) == before:
                return blob
        return b""
