"""The master's once-a-second step: one history-ring entry and the maxima since start.

``HistoryWriter.step`` is pure bookkeeping over the summed records (lb.stats.collect): it
keeps the last ten seconds of response and total time histograms to give windowed
percentiles, HAProxy's sliding "last 1024 requests" averages, and the highest rates and
gauge values seen. The caller writes what it returns into the region.
"""

from __future__ import annotations

from array import array
from collections import deque

from lb.stats.area import MAXIMA_FIELDS, RING_FIELDS, Maxima, Ring
from lb.stats.histogram import percentiles
from lb.stats.schema import INDEX, NBUCKETS, Record

WINDOW = 10  # s of history behind each percentile
AVG_SAMPLES = 1024  # HAProxy's averages cover the last 1024 requests

_R = Record.size
_STOT = INDEX["stot"]
_REQ = INDEX["req_tot"]
_BIN = INDEX["bin"]
_BOUT = INDEX["bout"]
_CONN = INDEX["conn_tot"]
_ERRS = (INDEX["ereq"], INDEX["econ"], INDEX["eresp"])
_DENIED = (INDEX["dreq"], INDEX["dresp"])
_5XX = INDEX["hrsp_5xx"]
_QCUR = Record.QCUR
_RT = Record.HIST + 2 * Record.HIST_STRIDE  # response time histogram (sum, buckets)
_TT = Record.HIST + 3 * Record.HIST_STRIDE
_SUMS = tuple(Record.HIST + p * Record.HIST_STRIDE for p in range(4))
_MAXES = tuple(Record.MAXES + p for p in range(4))
_NO_PERCENTILES = [-1] * 6


def _sample(totals: list[int], nobjects: int) -> array[int]:
    """Response and total time bucket counts of every object, back to back."""
    out = array("q")
    for i in range(nobjects):
        base = i * _R
        out.extend(totals[base + _RT + 1 : base + _RT + 1 + NBUCKETS])
        out.extend(totals[base + _TT + 1 : base + _TT + 1 + NBUCKETS])
    return out


class HistoryWriter:
    def __init__(self) -> None:
        self.window: deque[tuple[int, array[int]]] = deque(maxlen=WINDOW)
        self.last_stamp = 0
        self.last: dict[int, tuple[int, int, int]] = {}  # id → stot, req_tot, conn_tot
        # sliding averages: id → four (mean µs) and the (sum µs, count) they were last fed
        self.avg: dict[int, list[float]] = {}
        self.fed: dict[int, list[tuple[int, int]]] = {}

    def reset_maxima(self) -> None:
        """``clear counters``: the next step starts the maxima from its own values."""
        self.last.clear()

    def step(
        self,
        stamp_ms: int,
        totals: list[int],
        nobjects: int,
        scur: list[int],
        maxima: list[list[int]],
    ) -> tuple[list[int], list[list[int]]]:
        """One ring entry (nobjects x RING_FIELDS) and the updated maxima, from the summed
        records, each object's current sessions, and the maxima so far."""
        elapsed = (stamp_ms - self.last_stamp) / 1000.0 if self.last_stamp else 0.0
        sample = _sample(totals, nobjects)
        old = self._window_start(stamp_ms)
        self.window.append((stamp_ms, sample))
        ring = [0] * (nobjects * RING_FIELDS)
        new_maxima: list[list[int]] = []
        width = 2 * NBUCKETS
        for i in range(nobjects):
            base = i * _R
            t = totals[base : base + _R]
            r = i * RING_FIELDS
            ring[r + Ring.STOT] = t[_STOT]
            ring[r + Ring.REQ_TOT] = t[_REQ]
            ring[r + Ring.BIN] = t[_BIN]
            ring[r + Ring.BOUT] = t[_BOUT]
            ring[r + Ring.ERRORS] = sum(t[k] for k in _ERRS)
            ring[r + Ring.DENIED] = sum(t[k] for k in _DENIED)
            ring[r + Ring.HRSP_5XX] = t[_5XX]
            ring[r + Ring.SCUR] = scur[i]
            ring[r + Ring.QCUR] = t[_QCUR]
            ring[r + Ring.CONN_TOT] = t[_CONN]
            now_counts = sample[i * width : (i + 1) * width]
            then = (
                old[i * width : (i + 1) * width]
                if old is not None and len(old) >= (i + 1) * width
                else None
            )
            if then is not None and now_counts == then:  # nothing in the window: the common case
                ring[r + Ring.RT_P50 : r + Ring.TT_P99 + 1] = _NO_PERCENTILES
            else:
                delta = (
                    [a - b for a, b in zip(now_counts, then, strict=True)]
                    if then is not None
                    else list(now_counts)
                )
                rt = percentiles(delta[:NBUCKETS], ceiling=t[_MAXES[2]] / 1e6)
                tt = percentiles(delta[NBUCKETS:], ceiling=t[_MAXES[3]] / 1e6)
                for k, v in enumerate(rt):
                    ring[r + Ring.RT_P50 + k] = round(v * 1e6) if v >= 0 else -1
                for k, v in enumerate(tt):
                    ring[r + Ring.TT_P50 + k] = round(v * 1e6) if v >= 0 else -1
            for k, v in enumerate(self._averages(i, t)):
                ring[r + Ring.QT_AVG + k] = round(v)
            new_maxima.append(
                self._maxima(i, t, scur[i], maxima[i] if i < len(maxima) else [], elapsed)
            )
        self.last_stamp = stamp_ms
        return ring, new_maxima

    def _window_start(self, stamp_ms: int) -> array[int] | None:
        """The sample about WINDOW seconds old (the oldest kept), None before the first."""
        if not self.window:
            return None
        return self.window[0][1]

    def _averages(self, ident: int, t: list[int]) -> list[float]:
        """HAProxy's sliding average of the last AVG_SAMPLES values, fed once a second."""
        avg = self.avg.setdefault(ident, [0.0, 0.0, 0.0, 0.0])
        fed = self.fed.setdefault(ident, [(0, 0)] * 4)
        for p in range(4):
            total_us = t[_SUMS[p]]
            count = sum(t[_SUMS[p] + 1 : _SUMS[p] + 1 + NBUCKETS])
            last_us, last_n = fed[p]
            n = count - last_n
            if n > 0:
                mean = (total_us - last_us) / n
                weight = min(1.0, n / min(count, AVG_SAMPLES))
                avg[p] += weight * (mean - avg[p])
            elif n < 0:  # counters cleared: start again
                avg[p] = 0.0
            fed[p] = (total_us, count)
        return avg

    def _maxima(
        self, ident: int, t: list[int], scur: int, previous: list[int], elapsed: float
    ) -> list[int]:
        out = list(previous) + [0] * (MAXIMA_FIELDS - len(previous))
        out[Maxima.SMAX] = max(out[Maxima.SMAX], scur)
        out[Maxima.QMAX] = max(out[Maxima.QMAX], t[_QCUR])
        now = (t[_STOT], t[_REQ], t[_CONN])
        before = self.last.get(ident)
        self.last[ident] = now
        if before is not None and elapsed > 0:
            rates = [max(0, round((a - b) / elapsed)) for a, b in zip(now, before, strict=True)]
            out[Maxima.RATE_MAX] = max(out[Maxima.RATE_MAX], rates[0])
            out[Maxima.REQ_RATE_MAX] = max(out[Maxima.REQ_RATE_MAX], rates[1])
            out[Maxima.CONN_RATE_MAX] = max(out[Maxima.CONN_RATE_MAX], rates[2])
        return out
