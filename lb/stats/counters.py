"""The worker's side of the counters: plain attributes on the hot path, flushed to the slab.

The data paths get one ``ObjectCounters`` per frontend, backend, server and listener once
per configuration, and then only bump its attributes (``fe.req_tot += 1``, ``srv.bout += n``,
``srv.http_rsp[status // 100] += 1``, ``srv.observe(tq, tc, tr, tt)``). Nothing there
touches shared memory or takes a lock: an attribute increment costs what any Python
statement costs. The worker's tick copies every record that changed into the worker's slab
(one memcpy per record), at most every ``FLUSH_INTERVAL``; the master and the stats page
read the slabs.

What the data paths must bump, and where, is listed in ``docs/stats.md`` ("Counters").
"""

from __future__ import annotations

import time
from array import array
from bisect import bisect_left
from operator import attrgetter

from lb.stats.area import SlabField, StatsArea
from lb.stats.objects import (
    backend_key,
    frontend_key,
    listener_key,
    server_key,
)
from lb.stats.schema import BOUNDS, NBUCKETS, SCALARS, Record

FLUSH_INTERVAL = 0.25  # s: the worker's part of how stale the stats page can be

_scalars = attrgetter(*SCALARS, "obs")


class ObjectCounters:
    """One object's counters in one worker. Attributes are HAProxy's CSV column names.

    Times given to ``observe`` are in seconds (differences of ``loop.time()``); a negative
    value means the phase did not happen (HAProxy logs -1 there) and is not recorded.
    """

    __slots__ = (
        *SCALARS,
        "_flushed",
        "_rec",
        "_rsp_flushed",
        "c_max",
        "c_sum",
        "hc",
        "hq",
        "hr",
        "ht",
        "http_rsp",
        "ident",
        "lastsess",
        "obs",
        "q_max",
        "q_sum",
        "qcur",
        "r_max",
        "r_sum",
        "t_max",
        "t_sum",
    )

    def __init__(self, ident: int = -1) -> None:
        self.ident = ident  # object id in the slab; -1 = counted locally only
        for name in SCALARS:
            setattr(self, name, 0)
        # responses by status // 100: 1..5 are their class, 0 and 6..9 count as "other"
        self.http_rsp = [0] * 10
        self.hq = [0] * NBUCKETS
        self.hc = [0] * NBUCKETS
        self.hr = [0] * NBUCKETS
        self.ht = [0] * NBUCKETS
        self.q_sum = self.c_sum = self.r_sum = self.t_sum = 0.0
        self.q_max = self.c_max = self.r_max = self.t_max = 0.0
        self.obs = 0  # observe() calls: tells the flush that the histograms moved
        self.qcur = 0  # set by the worker at flush (its queue length for a backend)
        self.lastsess = 0  # CLOCK_MONOTONIC ms of the last new session, set at flush
        self._flushed: tuple[int, ...] = ()
        self._rsp_flushed: list[int] = []
        self._rec: array[int] = array("q")  # the record as last flushed

    def observe(self, tq: float, tc: float, tr: float, tt: float) -> None:
        """Record one request's (or tcp session's) queue, connect, response and total times."""
        self.obs += 1
        if tq >= 0.0:
            self.hq[bisect_left(BOUNDS, tq)] += 1
            self.q_sum += tq
            if tq > self.q_max:
                self.q_max = tq
        if tc >= 0.0:
            self.hc[bisect_left(BOUNDS, tc)] += 1
            self.c_sum += tc
            if tc > self.c_max:
                self.c_max = tc
        if tr >= 0.0:
            self.hr[bisect_left(BOUNDS, tr)] += 1
            self.r_sum += tr
            if tr > self.r_max:
                self.r_max = tr
        if tt >= 0.0:
            self.ht[bisect_left(BOUNDS, tt)] += 1
            self.t_sum += tt
            if tt > self.t_max:
                self.t_max = tt

    def reset_maxima(self) -> None:
        self.q_max = self.c_max = self.r_max = self.t_max = 0.0

    def record(self) -> array[int]:
        """The slab record (Record layout) of these counters."""
        rsp = self.http_rsp
        other = rsp[0] + rsp[6] + rsp[7] + rsp[8] + rsp[9]
        return array(
            "q",
            [
                *_scalars(self)[:-1],
                rsp[1],
                rsp[2],
                rsp[3],
                rsp[4],
                rsp[5],
                other,
                self.qcur,
                self.lastsess,
                _us(self.q_max),
                _us(self.c_max),
                _us(self.r_max),
                _us(self.t_max),
                _us(self.q_sum),
                *self.hq,
                _us(self.c_sum),
                *self.hc,
                _us(self.r_sum),
                *self.hr,
                _us(self.t_sum),
                *self.ht,
            ],
        )


def _us(seconds: float) -> int:
    return int(seconds * 1_000_000)


class WorkerStats:
    """A worker's counters: one ObjectCounters per object, and the flush into its slab.

    ``area`` None or ``slab`` -1 (no slab: the region was full) still hands out counters;
    they are simply never published.
    """

    def __init__(self, area: StatsArea | None, slab: int, ids: dict[str, int]) -> None:
        self.area = area if slab >= 0 else None
        self.slab = slab
        self.ids = ids
        self.objects: dict[str, ObjectCounters] = {}
        # a backend's histograms are its own plus its servers': who belongs to whom
        self.members: dict[str, list[ObjectCounters]] = {}
        self.last_flush = 0.0
        self.epoch = area.clear_epoch if area is not None else 0

    # ------------------------------------------------------------------ lookups (once per config)

    def _get(self, key: str) -> ObjectCounters:
        counters = self.objects.get(key)
        if counters is None:
            ident = self.ids.get(key, -1)
            if self.area is None or not 0 <= ident < self.area.max_objects:
                ident = -1
            counters = self.objects[key] = ObjectCounters(ident)
        return counters

    def frontend(self, name: str) -> ObjectCounters:
        return self._get(frontend_key(name))

    def backend(self, name: str) -> ObjectCounters:
        self.members.setdefault(backend_key(name), [])
        return self._get(backend_key(name))

    def server(self, backend: str, server: str) -> ObjectCounters:
        key = server_key(backend, server)
        known = key in self.objects
        counters = self._get(key)
        if not known:
            self.backend(backend)  # the backend's record sums its servers' histograms
            self.members[backend_key(backend)].append(counters)
        return counters

    def listener(self, frontend: str, name: str) -> ObjectCounters:
        return self._get(listener_key(frontend, name))

    # ------------------------------------------------------------------ flush

    def due(self, now: float) -> bool:
        return now - self.last_flush >= FLUSH_INTERVAL

    def flush(self, now: float, queues: dict[str, int] | None = None) -> int:
        """Copy every record that changed into the slab; returns how many were written.

        ``now`` is the loop clock; ``queues`` the worker's queue length per backend name.
        """
        self.last_flush = now
        area = self.area
        if area is None:
            return 0
        mono_ms = int(time.monotonic() * 1000)
        epoch = area.clear_epoch
        cleared = epoch != self.epoch
        self.epoch = epoch
        if queues is not None:
            for key in self.members:
                self.objects[key].qcur = queues.get(key[3:], 0)
        changed: set[int] = set()
        for counters in self.objects.values():
            if counters.ident >= 0 and _refresh(counters, cleared, mono_ms):
                changed.add(id(counters))
        slab = self.slab
        written = 0
        for key, servers in self.members.items():
            backend = self.objects[key]
            if backend.ident < 0:
                continue
            if id(backend) in changed or any(id(s) in changed for s in servers):
                changed.discard(id(backend))
                area.write_records(area.slab_index(slab, backend.ident), _merged(backend, servers))
                written += 1
        for counters in self.objects.values():
            if id(counters) in changed:
                area.write_records(area.slab_index(slab, counters.ident), counters._rec)
                written += 1
        area.set_table(slab, SlabField.FLUSHED_MS, int(time.time() * 1000))
        area.set_table(slab, SlabField.EPOCH, epoch)
        return written


def _refresh(counters: ObjectCounters, cleared: bool, mono_ms: int) -> bool:
    """Rebuild the record if anything moved since the last flush; True when it did."""
    if cleared:
        counters.reset_maxima()
    current = (*_scalars(counters), counters.qcur)
    if not cleared and current == counters._flushed and counters.http_rsp == counters._rsp_flushed:
        return False
    previous = counters._flushed
    if current[0] and (not previous or current[0] != previous[0]):
        counters.lastsess = mono_ms  # a new session since the last flush
    counters._flushed = current
    counters._rsp_flushed = list(counters.http_rsp)
    counters._rec = counters.record()
    return True


_H = Record.HIST
_M = Record.MAXES


def _merged(backend: ObjectCounters, servers: list[ObjectCounters]) -> array[int]:
    """The backend's record with its servers' histograms and time maxima added in."""
    if not backend._rec:
        backend._rec = backend.record()
    rec = array("q", backend._rec)
    recs = [s._rec for s in servers if s._rec]
    if not recs:
        return rec
    total = int.from_bytes(rec[_H:].tobytes(), "little")  # slot-wise sum (see lb.stats.collect)
    for r in recs:
        total += int.from_bytes(r[_H:].tobytes(), "little")
    rec[_H:] = array("q", total.to_bytes((len(rec) - _H) * 8, "little"))
    for k in range(_M, _M + 4):
        rec[k] = max(rec[k], *(r[k] for r in recs))
    return rec
