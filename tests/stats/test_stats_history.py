"""The master's once-a-second step: ring entries, rates, maxima, windowed percentiles."""

from __future__ import annotations

from bisect import bisect_left
from pathlib import Path

import pytest

from lb.stats.area import RING_FIELDS, Maxima, Ring
from lb.stats.history import HistoryWriter
from lb.stats.schema import BOUNDS, INDEX, Record, hist_offset
from lb.stats.shm import GaugeNames
from tests.stats.helpers import Rig, load

R = Record.size


def record(stot: int = 0, req: int = 0, rt: list[float] = (), qcur: int = 0) -> list[int]:  # type: ignore[assignment]
    r = [0] * R
    r[INDEX["stot"]] = stot
    r[INDEX["req_tot"]] = req
    r[Record.QCUR] = qcur
    base = hist_offset(2)
    for v in rt:
        r[base + 1 + bisect_left(BOUNDS, v)] += 1
        r[base] += round(v * 1e6)
    if rt:
        r[Record.MAXES + 2] = round(max(rt) * 1e6)
    return r


def test_rates_and_maxima_come_from_successive_steps() -> None:
    h = HistoryWriter()
    ring, maxima = h.step(1000, record(stot=10, req=20), 1, [3], [[]])
    assert ring[Ring.STOT] == 10 and ring[Ring.SCUR] == 3
    assert maxima[0][Maxima.SMAX] == 3 and maxima[0][Maxima.RATE_MAX] == 0
    ring, maxima = h.step(2000, record(stot=60, req=220, qcur=4), 1, [1], maxima)
    assert maxima[0][Maxima.RATE_MAX] == 50
    assert maxima[0][Maxima.REQ_RATE_MAX] == 200
    assert maxima[0][Maxima.SMAX] == 3  # the highest seen, not the last
    assert maxima[0][Maxima.QMAX] == 4
    _ring, maxima = h.step(4000, record(stot=80, req=240), 1, [0], maxima)
    assert maxima[0][Maxima.RATE_MAX] == 50  # 20 over two seconds is 10/s


def test_percentiles_cover_the_last_ten_seconds() -> None:
    h = HistoryWriter()
    slow = [0.5] * 100
    ring, maxima = h.step(0, record(rt=slow), 1, [0], [[]])
    assert 0.4e6 < ring[Ring.RT_P50] <= 0.5e6
    fast = slow + [0.001] * 1000
    ring, maxima = h.step(1000, record(rt=fast), 1, [0], maxima)
    assert 800 < ring[Ring.RT_P50] <= 1000  # the slow ones are older than the window's start
    for second in range(2, 11):
        ring, maxima = h.step(second * 1000, record(rt=fast), 1, [0], maxima)
    assert 800 < ring[Ring.RT_P50] <= 1000  # ten seconds after: still in the window
    ring, maxima = h.step(11000, record(rt=fast), 1, [0], maxima)
    assert ring[Ring.RT_P50] == -1  # eleven: gone, and nothing new


def test_averages_slide_over_the_last_1024_values() -> None:
    h = HistoryWriter()
    ring, _m = h.step(0, record(rt=[0.010] * 10), 1, [0], [[]])
    assert ring[Ring.RT_AVG] == pytest.approx(10000, rel=0.01)  # few values: their mean
    ring, _m = h.step(1000, record(rt=[0.010] * 10 + [0.001] * 4096), 1, [0], [[]])
    assert ring[Ring.RT_AVG] == pytest.approx(1000, rel=0.01)  # 1024 new ones replace it
    ring, _m = h.step(2000, record(rt=[0.010] * 10 + [0.001] * 4096), 1, [0], [[]])
    assert ring[Ring.RT_AVG] == pytest.approx(1000, rel=0.01)  # idle: the value stays


def test_the_master_tick_writes_the_ring_and_readers_get_rates(tmp_path: Path) -> None:
    rig = Rig(load(tmp_path))
    try:
        _pid, ws = rig.worker()
        fe = ws.frontend("web")
        fe.stot += 5
        fe.req_tot += 5
        ws.flush(0.0)
        rig.set_gauge(GaugeNames.frontend_cur_conns("web"), 2)
        assert rig.stats.tick(1000.0)
        assert not rig.stats.tick(1000.5)  # once a second
        fe.stot += 30
        fe.req_tot += 40
        ws.flush(1.0)
        assert rig.stats.tick(1002.0)
        area = rig.region.stats
        assert area.ring_head == 2
        stamp, values = area.ring_entry(1, len(rig.stats.objects))
        assert stamp == 1002000
        ident = rig.stats.objects.ids["fe:web"]
        assert values[ident * RING_FIELDS + Ring.STOT] == 35
        snap = rig.stats.snapshot(rig.config, 1000)
        web = snap.proxies[0].frontend
        assert web is not None
        assert (web.rates.rate, web.rates.req_rate) == (15, 20)  # over the two seconds
        assert web.scur == 2 and web.smax == 2
        assert snap.process.cum_req == 45
    finally:
        rig.close()
