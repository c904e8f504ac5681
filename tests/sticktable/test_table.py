"""One shared table: insert, find, counters, expiry, purge, clear; and several processes
hammering the same keys through their own mappings of one memfd (exact final counts)."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lb.sticktable.keys import DELETED
from lb.sticktable.layout import H_USED, TableLayout
from lb.sticktable.table import StickTable

ROOT = Path(__file__).resolve().parents[2]
STORE = [("http_req_rate", 10_000), ("conn_cur", 0), ("conn_cnt", 0), ("gpc0", 0)]
NOW = 5_000_000


def ip(text: str) -> tuple[int, bytes]:
    key = StickTable.key_of_type("ip")(ipaddress.ip_address(text))
    assert key is not None
    return key


@pytest.fixture
def table() -> Iterator[StickTable]:
    t = StickTable.create("fe", TableLayout.build("ip", 0, 8, STORE, 30_000))
    yield t
    t.close()


def test_insert_find_count(table: StickTable) -> None:
    a, b = ip("10.0.0.1"), ip("10.0.0.2")
    assert table.find(a[0]) == -1
    base = table.get(a, NOW)
    assert base >= 0 and table.get(a, NOW + 1) == base  # same slot, touched again
    assert table.find(a[0]) == base and table.used == 1
    other = table.get(b, NOW)
    assert other != base and table.used == 2
    table.connection(base, NOW)
    table.request(base, NOW)
    table.request(base, NOW)
    assert table.load(base, "http_req_rate", NOW) == 2
    assert table.load(base, "conn_cur", NOW) == 1 and table.load(base, "conn_cnt", NOW) == 1
    assert table.load(base, "gpc1", NOW) is None  # not stored
    assert table.add(base, "gpc0", 3, NOW) == 3
    table.release(base, a[0], NOW)
    assert table.load(base, "conn_cur", NOW) == 0
    assert table.load(other, "http_req_rate", NOW) == 0
    assert table.show_key(base) == "10.0.0.1"


def test_expiry_spares_tracked_and_recent_entries(table: StickTable) -> None:
    old, tracked, recent = ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")
    table.get(old, NOW)
    tb = table.get(tracked, NOW)
    table.connection(tb, NOW)  # tracked: never expires while in use
    table.get(recent, NOW + 20_000)
    assert table.find(old[0], NOW + 30_001) == -1  # past expiry: absent for lookups already
    assert table.sweep(NOW + 30_001, set()) == 1
    assert table.find(old[0]) == -1 and table.find(tracked[0]) >= 0
    assert table.find(recent[0]) >= 0 and table.used == 2
    # the deleted slot is reused by the next key of its chain
    assert table.get(old, NOW + 30_002) >= 0 and table.used == 3


def test_purge_keeps_size_and_nopurge_refuses() -> None:
    lay = TableLayout.build("ip", 0, 4, STORE, 0)
    purging = StickTable.create("p", lay)
    keeping = StickTable.create("k", lay, nopurge=True)
    try:
        for i in range(6):
            assert purging.get(ip(f"10.0.1.{i}"), NOW + i) >= 0
            base = keeping.get(ip(f"10.0.1.{i}"), NOW + i)
            assert (base >= 0) == (i < 4)  # nopurge: full is full
        assert purging.used == 6
        assert purging.sweep(NOW + 10, set()) == 2  # the two least recently used go
        assert purging.find(ip("10.0.1.0")[0]) == -1 and purging.find(ip("10.0.1.1")[0]) == -1
        assert purging.find(ip("10.0.1.5")[0]) >= 0 and purging.used == 4
        assert keeping.sweep(NOW + 10, set()) == 0 and keeping.used == 4
    finally:
        purging.close()
        keeping.close()


def test_clear_one_and_all(table: StickTable) -> None:
    for i in range(3):
        table.get(ip(f"10.0.2.{i}"), NOW)
    busy = table.get(ip("10.0.2.9"), NOW)
    table.connection(busy, NOW)
    assert table.clear(ip("10.0.2.1")[0]) == 1 and table.used == 3
    assert table.clear() == 2  # the tracked one stays, as in HAProxy
    assert table.used == 1 and table.find(ip("10.0.2.9")[0]) == busy


def test_stuck_busy_slot_is_freed_after_two_sweeps(table: StickTable) -> None:
    base = table.get(ip("10.0.3.1"), NOW)
    table.c.store(base, 2)  # a writer died in the middle of an insert
    stuck: set[int] = set()
    table.sweep(NOW, stuck)
    assert table.view[base] == 2
    table.sweep(NOW, stuck)
    assert table.view[base] == DELETED and table.view[H_USED] == 0


def test_attach_checks_the_layout(table: StickTable) -> None:
    other = TableLayout.build("ip", 0, 1000, STORE, 30_000)
    with pytest.raises(RuntimeError, match="layout mismatch"):
        StickTable.attach("fe", other, table.fd)
    same = StickTable.attach("fe", table.layout, table.fd)
    base = table.get(ip("10.0.4.1"), NOW)
    assert same.find(ip("10.0.4.1")[0]) == base  # one memory, two mappings
    same.close(close_fd=False)


_CHILD = """
import ipaddress, os, sys
from lb.sticktable.layout import TableLayout
from lb.sticktable.table import StickTable
fd, n, go, child = (int(a) for a in sys.argv[1:])
store = [("http_req_rate", 10_000), ("conn_cur", 0), ("conn_cnt", 0), ("gpc0", 0)]
t = StickTable.attach("fe", TableLayout.build("ip", 0, 1000, store, 30_000), fd)
key_of = StickTable.key_of_type("ip")
shared = key_of(ipaddress.ip_address("192.0.2.1"))
os.read(go, 1)
for i in range(n):
    now = 5_000_000 + i % 50
    base = t.get(shared, now)
    t.connection(base, now)
    t.request(base, now)
    t.add(base, "gpc0", 1, now)
    t.release(base, shared[0], now)
    # keys every child inserts at the same moment: one entry each, never two
    mine = t.get(key_of(ipaddress.ip_address(f"198.51.100.{i % 200}")), now)
    t.add(mine, "gpc0", 1, now)
t.close(close_fd=False)
"""


def test_processes_hammering_the_same_keys() -> None:
    procs, n = 4, 2_000
    t = StickTable.create("fe", TableLayout.build("ip", 0, 1000, STORE, 30_000))
    go_r, go_w = os.pipe()
    try:
        children = [
            subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(t.fd), str(n), str(go_r), str(c)],
                pass_fds=(t.fd, go_r),
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                cwd=ROOT,
            )
            for c in range(procs)
        ]
        os.close(go_r)
        os.close(go_w)
        for child in children:
            assert child.wait(120) == 0
        base = t.find(ip("192.0.2.1")[0])
        total = procs * n
        assert t.load(base, "conn_cnt", NOW) == total
        assert t.load(base, "gpc0", NOW) == total
        assert t.load(base, "conn_cur", NOW) == 0
        assert t.load(base, "http_req_rate", NOW + 49) == total
        assert t.view[base + 2] == 0  # trackers
        assert t.used == 1 + 200  # no key was inserted twice
        counts = [t.load(b, "gpc0", NOW) for b, _fp in t.live() if b != base]
        assert len(counts) == 200 and sum(counts) == total
    finally:
        t.close()
