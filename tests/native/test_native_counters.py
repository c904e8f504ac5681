"""SharedCounters over a memfd mapping: semantics (native and lockf fallback) and atomicity
across processes."""

from __future__ import annotations

import json
import mmap
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lb._native import SharedCounters

ROOT = Path(__file__).resolve().parents[2]
SLOTS = 512
I64_MAX = (1 << 63) - 1
I64_MIN = -(1 << 63)

NATIVE = [pytest.param(True, id="native"), pytest.param(False, id="python")]


@pytest.fixture
def shm() -> Iterator[tuple[mmap.mmap, int]]:
    fd = os.memfd_create("lb-test-counters", os.MFD_CLOEXEC)
    os.ftruncate(fd, SLOTS * 8)
    mm = mmap.mmap(fd, SLOTS * 8)
    yield mm, fd
    mm.close()
    os.close(fd)


@pytest.fixture(params=NATIVE)
def counters(
    request: pytest.FixtureRequest, shm: tuple[mmap.mmap, int]
) -> Iterator[SharedCounters]:
    mm, fd = shm
    c = SharedCounters(mm, fd, native=request.param)
    assert c.native is request.param  # native=True must FAIL when the extension is missing
    yield c
    c.close()


def test_add_load_store(counters: SharedCounters, shm: tuple[mmap.mmap, int]) -> None:
    mm, _ = shm
    assert counters.size == SLOTS
    assert counters.load(0) == 0
    assert counters.add(0, 5) == 5
    assert counters.add(0, -7) == -2
    assert counters.load(0) == -2
    counters.store(3, 1 << 40)
    assert counters.load(3) == 1 << 40
    # layout: slot i is the little-endian int64 at byte offset 8*i
    assert int.from_bytes(mm[24:32], "little", signed=True) == 1 << 40
    assert int.from_bytes(mm[0:8], "little", signed=True) == -2
    mm[80:88] = (12345).to_bytes(8, "little", signed=True)
    assert counters.load(10) == 12345
    assert counters.load(SLOTS - 1) == 0
    assert counters.add(SLOTS - 1, 1) == 1


def test_wraps_like_int64(counters: SharedCounters) -> None:
    counters.store(1, I64_MAX)
    assert counters.add(1, 1) == I64_MIN
    assert counters.add(1, -1) == I64_MAX


def test_out_of_range(counters: SharedCounters) -> None:
    for index in (-1, SLOTS, 1 << 40):
        with pytest.raises(IndexError):
            counters.add(index, 1)
        with pytest.raises(IndexError):
            counters.load(index)
        with pytest.raises(IndexError):
            counters.store(index, 1)
        with pytest.raises(IndexError):
            counters.try_acquire(index, 1)
        with pytest.raises(IndexError):
            counters.release(index)
    with pytest.raises(OverflowError):
        counters.store(0, 1 << 63)


def test_try_acquire_release(counters: SharedCounters) -> None:
    assert [counters.try_acquire(2, 3) for _ in range(5)] == [True, True, True, False, False]
    assert counters.load(2) == 3
    counters.release(2)
    assert counters.load(2) == 2
    assert counters.try_acquire(2, 3) is True
    assert counters.try_acquire(2, 3) is False
    # a limit lowered below the current value refuses and changes nothing
    assert counters.try_acquire(2, 1) is False
    assert counters.load(2) == 3
    # limit <= 0: no limit, always counts
    for limit in (0, -1):
        assert counters.try_acquire(2, limit) is True
    assert counters.load(2) == 5


def test_close_unpins_mapping(shm: tuple[mmap.mmap, int]) -> None:
    mm, fd = shm
    c = SharedCounters(mm, fd, native=True)
    c.add(0, 1)
    with pytest.raises(BufferError):
        mm.close()  # pinned while the cached pointer lives
    c.close()
    c.close()
    with pytest.raises(IndexError):
        c.add(0, 1)  # never a dangling pointer


def test_python_fallback_needs_the_fd(shm: tuple[mmap.mmap, int]) -> None:
    mm, _ = shm
    with pytest.raises(ValueError):
        SharedCounters(mm, -1, native=False)


_CHILD = """
import mmap, os, sys
from lb._native import SharedCounters
fd, n, limit, go = (int(a) for a in sys.argv[2:])
native = sys.argv[1] == "1"
mm = mmap.mmap(fd, 0)
c = SharedCounters(mm, fd, native=native)
os.read(go, 1)  # all children start together, so they contend
acquired = max_seen = max_holders = 0
for _ in range(n):
    c.add(0, 1)
    if c.try_acquire(1, limit):
        acquired += 1
        holders = c.add(2, 1)  # how many hold a slot right now, counted independently
        max_holders = max(max_holders, holders)
        max_seen = max(max_seen, c.load(1))
        c.add(2, -1)
        c.release(1)
c.add(3, acquired)
c.close()
print(acquired, max_seen, max_holders)
"""


@pytest.mark.parametrize("native", NATIVE)
def test_cross_process_atomicity(native: bool, shm: tuple[mmap.mmap, int]) -> None:
    mm, fd = shm
    procs, n, limit = 4, 20_000, 2
    go_r, go_w = os.pipe()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, "1" if native else "0"]
            + [str(x) for x in (fd, n, limit, go_r)],
            pass_fds=(fd, go_r),
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(procs)
    ]
    os.close(go_r)
    os.close(go_w)  # EOF on the go pipe: everyone starts
    results = []
    for child in children:
        out, _ = child.communicate(timeout=240)
        assert child.returncode == 0
        results.append([int(x) for x in out.split()])
    c = SharedCounters(mm, fd, native=native)
    assert c.load(0) == procs * n  # no lost update
    assert c.load(1) == 0  # every acquire released
    assert c.load(2) == 0
    assert c.load(3) == sum(r[0] for r in results) > 0
    print(json.dumps(results))
    for acquired, max_seen, max_holders in results:
        assert max_seen <= limit, "try_acquire let the value exceed the limit"
        assert max_holders <= limit, "more holders than the limit at once"
        assert acquired > 0
    c.close()
