"""The worker's counters, their flush into its slab, and the sums the readers make of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lb.stats.area import SlabField, SlabState
from lb.stats.collect import combine, read_totals
from lb.stats.counters import FLUSH_INTERVAL, ObjectCounters, WorkerStats
from lb.stats.schema import INDEX, NBUCKETS, Record, hist_offset
from tests.stats.helpers import Rig, load

R = Record.size


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    r = Rig(load(tmp_path))
    yield r
    r.close()


def totals_of(rig: Rig, key: str) -> list[int]:
    n = len(rig.stats.objects)
    values = read_totals(rig.region.stats, n)
    ident = rig.stats.objects.ids[key]
    return values[ident * R : (ident + 1) * R]


def test_the_record_holds_what_the_data_path_bumped(rig: Rig) -> None:
    _pid, ws = rig.worker()
    fe = ws.frontend("web")
    for status in (200, 204, 301, 404, 503, 99, 600):
        fe.req_tot += 1
        fe.http_rsp[status // 100] += 1
    fe.bin += 1500
    fe.bout += 70000
    fe.stot += 3
    assert ws.flush(0.0) == 1
    t = totals_of(rig, "fe:web")
    assert t[INDEX["req_tot"]] == 7
    assert [t[INDEX[f"hrsp_{c}xx"]] for c in range(1, 6)] == [0, 2, 1, 1, 1]
    assert t[INDEX["hrsp_other"]] == 2
    assert (t[INDEX["bin"]], t[INDEX["bout"]], t[INDEX["stot"]]) == (1500, 70000, 3)
    assert t[Record.LASTSESS] > 0  # a session since the last flush


def test_only_records_that_changed_are_written(rig: Rig) -> None:
    _pid, ws = rig.worker()
    fe = ws.frontend("web")
    srv = ws.server("app", "s1")
    fe.stot += 1
    assert ws.flush(0.0) == 3  # the first flush writes every record once
    assert ws.flush(1.0) == 0
    fe.stot += 1
    assert ws.flush(1.5) == 1
    srv.http_rsp[2] += 1  # a response alone (no other counter) is a change
    assert ws.flush(2.0) == 2  # the server, and its backend (which sums its histograms)
    srv.observe(0.0, -1.0, -1.0, -1.0)  # a zero queue time is a change too
    assert ws.flush(3.0) == 2


def test_observe_fills_histograms_sums_and_maxima(rig: Rig) -> None:
    _pid, ws = rig.worker()
    srv = ws.server("app", "s1")
    srv.observe(0.0, 0.0004, 0.002, 0.0031)
    srv.observe(0.0, -1.0, 0.009, 0.0095)  # a pooled connection: no connect time
    ws.flush(0.0)
    t = totals_of(rig, "srv:app/s1")
    q, c, r, tt = (hist_offset(p) for p in range(4))
    assert sum(t[q + 1 : q + 1 + NBUCKETS]) == 2 and t[q] == 0
    assert sum(t[c + 1 : c + 1 + NBUCKETS]) == 1 and t[c] == 400
    assert sum(t[r + 1 : r + 1 + NBUCKETS]) == 2 and t[r] == 11000
    assert t[tt] == 12600
    assert t[Record.MAXES : Record.MAXES + 4] == [0, 400, 9000, 9500]


def test_a_backend_record_adds_its_servers_histograms(rig: Rig) -> None:
    _pid, ws = rig.worker()
    be = ws.backend("app")
    s1 = ws.server("app", "s1")
    s2 = ws.server("app", "s2")
    s1.observe(-1, -1, 0.001, 0.002)
    s2.observe(-1, -1, 0.004, 0.005)
    be.observe(-1, -1, -1, 0.0001)  # no server at all (a 503): the backend's own
    be.req_tot += 3
    ws.flush(0.0)
    t = totals_of(rig, "be:app")
    tt = hist_offset(3)
    assert sum(t[tt + 1 : tt + 1 + NBUCKETS]) == 3
    assert t[tt] == 2000 + 5000 + 100
    assert t[Record.MAXES + 2] == 4000  # the highest response time of any server
    assert t[INDEX["req_tot"]] == 3  # scalars are the backend's own


def test_queue_lengths_are_gauges_set_at_flush(rig: Rig) -> None:
    _pid, ws = rig.worker()
    ws.backend("app")
    ws.flush(0.0, {"app": 4})
    assert totals_of(rig, "be:app")[Record.QCUR] == 4
    ws.flush(1.0, {})
    assert totals_of(rig, "be:app")[Record.QCUR] == 0


def test_two_workers_add_up_and_maxima_take_the_largest(rig: Rig) -> None:
    _a, w1 = rig.worker(slot=0)
    _b, w2 = rig.worker(slot=1)
    w1.server("app", "s1").stot += 5
    w2.server("app", "s1").stot += 7
    w1.server("app", "s1").observe(-1, -1, -1, 0.25)
    w2.server("app", "s1").observe(-1, -1, -1, 0.5)
    w1.flush(0.0)
    w2.flush(0.0)
    t = totals_of(rig, "srv:app/s1")
    assert t[INDEX["stot"]] == 12
    assert t[Record.MAXES + 3] == 500000


def test_counters_are_monotonic_across_a_worker_exit(rig: Rig) -> None:
    pid, w1 = rig.worker(slot=0)
    w1.frontend("web").req_tot += 10
    w1.backend("app")
    w1.flush(0.0, {"app": 3})
    before = totals_of(rig, "fe:web")[INDEX["req_tot"]]
    rig.stats.worker_exited(pid, slot=0, crashed=True)
    after = totals_of(rig, "fe:web")[INDEX["req_tot"]]
    assert before == after == 10
    assert totals_of(rig, "be:app")[Record.QCUR] == 0  # a dead worker queues nothing
    _pid2, w2 = rig.worker(slot=0)  # its replacement may reuse the freed slab
    w2.frontend("web").req_tot += 1
    w2.flush(0.0)
    assert totals_of(rig, "fe:web")[INDEX["req_tot"]] == 11
    assert rig.stats.restarts == {0: 1}


def test_a_graceful_exit_is_not_a_restart(rig: Rig) -> None:
    pid, _ws = rig.worker(slot=1)
    rig.stats.worker_exited(pid, slot=1, crashed=False)
    assert rig.stats.restarts == {}


def test_slabs_are_freed_and_reused(rig: Rig) -> None:
    area = rig.region.stats
    pid, ws = rig.worker()
    slab = ws.slab
    assert area.table(slab, SlabField.STATE) == SlabState.LIVE
    assert area.table(slab, SlabField.PID) == pid
    rig.stats.worker_exited(pid, 0, crashed=False)
    assert area.table(slab, SlabField.STATE) == SlabState.FREE
    assert (
        bytes(area.slab_bytes(slab, len(rig.stats.objects))).count(0)
        == len(rig.stats.objects) * R * 8
    )
    _pid, again = rig.worker()
    assert again.slab == slab


def test_readers_retry_while_the_master_folds(rig: Rig) -> None:
    area = rig.region.stats
    area.begin_write()  # as if the master were in the middle of a fold
    with pytest.raises(RuntimeError):
        read_totals(area, len(rig.stats.objects) or 1)
    area.end_write()
    read_totals(area, len(rig.stats.objects))


def test_clear_counters(rig: Rig) -> None:
    pid, ws = rig.worker()
    s1 = ws.server("app", "s1")
    s1.stot += 4
    s1.observe(-1, -1, -1, 2.0)
    ws.flush(0.0)
    rig.stats.clear(everything=False)  # maxima only
    assert totals_of(rig, "srv:app/s1")[INDEX["stot"]] == 4
    ws.flush(1.0)  # the worker honours the new epoch at its next flush
    assert totals_of(rig, "srv:app/s1")[Record.MAXES + 3] == 0
    rig.stats.clear(everything=True)
    assert totals_of(rig, "srv:app/s1")[INDEX["stot"]] == 0
    s1.stot += 1
    ws.flush(2.0)
    assert totals_of(rig, "srv:app/s1")[INDEX["stot"]] == 1
    rig.stats.worker_exited(pid, 0, crashed=False)
    assert totals_of(rig, "srv:app/s1")[INDEX["stot"]] == 1


def test_counters_without_a_slab_count_locally() -> None:
    ws = WorkerStats(None, -1, {})
    fe = ws.frontend("web")
    fe.req_tot += 1
    assert ws.flush(0.0) == 0
    assert fe.req_tot == 1


def test_flush_is_due_every_interval() -> None:
    ws = WorkerStats(None, -1, {})
    ws.flush(10.0)
    assert not ws.due(10.0 + FLUSH_INTERVAL / 2)
    assert ws.due(10.0 + FLUSH_INTERVAL)


def test_combine_adds_slot_by_slot_without_carries() -> None:
    big = [2**62 - 1] * R
    a = ObjectCounters().record().tobytes()
    b = bytes(memoryview(__import__("array").array("q", big)).cast("B"))
    out = combine([a, b], 1)
    assert out == big
    maxima = combine([b, b], 1)
    assert maxima[Record.MAXES] == 2**62 - 1  # a maximum, not a sum


def test_a_killed_worker_process_loses_nothing_it_flushed(rig: Rig) -> None:
    """A real process writes its slab and is killed with SIGKILL; the fold keeps its counts."""
    entries = rig.stats.boot_entries(rig.config, 0, 1)
    code = (
        "import os, sys, json, signal\n"
        "from lb.stats.shm import SharedRegion\n"
        "from lb.stats.counters import WorkerStats\n"
        "from lb.stats.objects import ids_from_boot\n"
        "region = SharedRegion.attach(int(sys.argv[1]))\n"
        "ids, slab = ids_from_boot(json.loads(sys.argv[2]))\n"
        "ws = WorkerStats(region.stats, slab, ids)\n"
        "fe = ws.frontend('web')\n"
        "fe.req_tot += 123\n"
        "fe.bout += 4567\n"
        "ws.flush(0.0)\n"
        "fe.req_tot += 1000  # not flushed: lost with the process, as documented\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    import json

    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(rig.region.fd), json.dumps(entries)],
        pass_fds=[rig.region.fd],
    )
    rig.stats.worker_started(proc.pid, entries)
    assert proc.wait(10) == -signal.SIGKILL
    live = totals_of(rig, "fe:web")
    rig.stats.worker_exited(proc.pid, 0, crashed=True)
    folded = totals_of(rig, "fe:web")
    assert live[INDEX["req_tot"]] == folded[INDEX["req_tot"]] == 123
    assert folded[INDEX["bout"]] == 4567
    assert os.getpid()  # (the test process itself is untouched)
    assert time.time()
