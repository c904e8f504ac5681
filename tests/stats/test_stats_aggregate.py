"""The aggregate the master publishes: what a worker's page and /metrics read instead of
summing every slab per request. Fresh within one master tick, never counting a dead worker
twice or not at all, never shown when older than a second."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lb.stats.collect import MAX_AGE_MS, read_published
from lb.stats.master import PUBLISH_INTERVAL
from lb.stats.schema import INDEX, Record
from lb.stats.source import SnapshotSource
from tests.stats.helpers import Rig, load

R = Record.size
REQ = INDEX["req_tot"]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(load(tmp_path), nworkers=4)
    yield r
    r.close()


def worker_source(rig: Rig) -> SnapshotSource:
    """A source as a worker makes one (lb.worker.worker.Worker.stats_source)."""
    return SnapshotSource(
        rig.region, rig.config, rig.stats.register(rig.config), rig.gauges.slots.get, 1000
    )


def requests(source: SnapshotSource) -> int:
    """The frontend's request count the page or /metrics would show."""
    snapshot = source.take()
    fe = next(p.frontend for p in snapshot.proxies if p.name == "web")
    assert fe is not None
    return fe.value("req_tot")


def live_requests(rig: Rig) -> int:
    """What the master's ``show stat`` shows: the slabs summed there and then."""
    return requests(rig.stats.source(rig.config, 1000))


def test_a_worker_page_sees_flushed_counts_within_one_master_tick(rig: Rig) -> None:
    page = worker_source(rig)
    _pid, ws = rig.worker()
    fe = ws.frontend("web")
    fe.req_tot += 3
    ws.flush(0.0)
    assert requests(page) == 3  # nothing published yet: the page sums the slabs itself
    assert rig.stats.tick(1000.0)
    fe.req_tot += 2
    ws.flush(0.25)
    assert requests(page) == 3  # the published sums, at most a tick old
    assert live_requests(rig) == 5  # show stat: exact to the last flush
    assert rig.stats.tick(1001.0)
    assert requests(page) == 5
    age = page.take().process.sums_age
    assert 0 <= age < 1


def test_the_master_publishes_twice_a_second_between_ring_entries(rig: Rig) -> None:
    page = worker_source(rig)
    _pid, ws = rig.worker()
    assert rig.stats.tick(1000.0)
    ws.frontend("web").req_tot += 1
    ws.flush(0.0)
    assert not rig.stats.tick(1000.2)  # no ring entry, and no publication yet either
    assert requests(page) == 0
    rig.stats.last_publish -= PUBLISH_INTERVAL  # half a second later
    assert not rig.stats.tick(1000.2)  # still no ring entry, but the sums are published
    assert requests(page) == 1
    assert rig.region.stats.ring_head == 1


def test_an_aggregate_older_than_a_second_is_not_shown(rig: Rig) -> None:
    page = worker_source(rig)
    _pid, ws = rig.worker()
    rig.stats.tick(1000.0)
    ws.frontend("web").req_tot += 7
    ws.flush(0.0)
    area = rig.region.stats
    n = len(rig.stats.objects)
    found = area.read_aggregate(n)
    assert found is not None
    stamp, count, data = found
    # the master stalled (a long reload): its last sums are now more than a second old
    area.write_aggregate(stamp - MAX_AGE_MS - 100, count, data)
    snapshot = page.take()
    assert snapshot.process.sums_age == 0  # summed for this view
    assert requests(page) == 7


def test_a_folded_worker_is_counted_once_across_publications(rig: Rig) -> None:
    page = worker_source(rig)
    pid_a, a = rig.worker(slot=0)
    _pid_b, b = rig.worker(slot=1)
    a.frontend("web").req_tot += 3
    b.frontend("web").req_tot += 40
    a.flush(0.0)
    b.flush(0.0)
    rig.stats.tick(1000.0)
    assert requests(page) == 43
    a.frontend("web").req_tot += 200  # flushed after the publication, then the worker exits
    a.flush(0.25)
    rig.stats.worker_exited(pid_a, slot=0, crashed=True)
    # before the next publication: the old sums (A's last 200 not yet in), never A twice
    assert requests(page) == 43
    assert live_requests(rig) == 243
    rig.stats.tick(1001.0)
    assert requests(page) == live_requests(rig) == 243
    _pid_c, c = rig.worker(slot=0)  # its replacement, maybe on A's freed slab
    c.frontend("web").req_tot += 1000
    c.flush(0.5)
    rig.stats.tick(1002.0)
    assert requests(page) == 1243


def test_clear_counters_all_shows_at_once_on_worker_pages(rig: Rig) -> None:
    page = worker_source(rig)
    _pid, ws = rig.worker()
    ws.frontend("web").req_tot += 5
    ws.flush(0.0)
    rig.stats.tick(1000.0)
    assert requests(page) == 5
    rig.stats.clear(everything=True)
    assert requests(page) == 0


def test_objects_registered_after_a_publication_read_as_zeros(rig: Rig) -> None:
    _pid, ws = rig.worker()
    ws.frontend("web").req_tot += 1
    ws.flush(0.0)
    rig.stats.tick(1000.0)
    area = rig.region.stats
    n = len(rig.stats.objects)
    found = read_published(area, n + 2)
    assert found is not None
    _age, values = found
    assert len(values) == (n + 2) * R
    assert values[n * R :] == [0] * (2 * R)
    ident = rig.stats.objects.ids["fe:web"]
    assert values[ident * R + REQ] == 1


READER = """
import os, sys, time
from lb.stats.collect import read_published
from lb.stats.shm import SharedRegion
region = SharedRegion.attach(int(sys.argv[1]))
n, first, last, stop = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
print("ready", flush=True)
reads = bad = seen = 0
deadline = time.monotonic() + 30
final = False
while not final and time.monotonic() < deadline:
    # one more read after the stop file: the last publication came before it
    final = os.path.exists(stop)
    found = read_published(region.stats, n)
    if found is None:
        continue
    reads += 1
    a, b = found[1][first], found[1][last]
    if a != b or a < seen:  # half of two publications, or a worker missing, then back
        bad += 1
        print("bad", a, b, seen, flush=True)
    seen = max(seen, a)
print(reads, bad, seen, flush=True)
"""

MANY = "\n".join(
    [
        "defaults",
        "    mode http",
        "    timeout connect 5s",
        "    timeout client 5s",
        "    timeout server 5s",
        "frontend web",
        "    bind 127.0.0.1:18080",
        "    default_backend app",
        "backend app",
        *(f"    server s{i} 127.0.0.1:{20000 + i}" for i in range(300)),
    ]
)


def test_a_reader_racing_folds_and_publications_counts_every_worker_once(tmp_path: Path) -> None:
    """Another process reads the aggregate while workers come and go and the master folds
    and republishes: every read is one whole publication (the frontend and the last server,
    which every worker bumps together, agree; their records are ~800 kB apart) and never
    goes down (a folded worker is never missing, nor counted twice and then once)."""
    rig = Rig(load(tmp_path, MANY), nworkers=4)
    try:
        ids = rig.stats.register(rig.config)
        n = len(rig.stats.objects)
        first = ids["fe:web"] * R + REQ
        last = ids["srv:app/s299"] * R + REQ
        stop = tmp_path / "stop"
        args = [str(rig.region.fd), str(n), str(first), str(last), str(stop)]
        proc = subprocess.Popen(
            [sys.executable, "-c", READER, *args],
            pass_fds=[rig.region.fd],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        try:
            assert proc.stdout.readline() == "ready\n"
            expected = _churn(rig, rounds=40)
            stop.touch()
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reads, bad, seen = (int(x) for x in out.split()[-3:])
        assert bad == 0, out
        assert reads > 0 and seen == expected
        assert live_requests(rig) == expected
    finally:
        rig.close()


def _churn(rig: Rig, rounds: int) -> int:
    """Workers that count, flush and exit one after another, with publications between:
    what the master does over a reload or a crash loop. Returns the requests counted."""
    total = 0
    previous: tuple[int, int] | None = None
    for i in range(rounds):
        pid, ws = rig.worker(slot=i % 4)
        ws.frontend("web").req_tot += i + 1
        ws.server("app", "s299").req_tot += i + 1
        ws.flush(0.0)
        total += i + 1
        rig.stats.publish_aggregate()
        if previous is not None:
            rig.stats.worker_exited(*previous, crashed=True)
        rig.stats.publish_aggregate()
        previous = (pid, i % 4)
    return total
