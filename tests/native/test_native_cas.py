"""SharedCounters.cas: compare-and-swap semantics (native and lockf fallback), and a CAS
increment loop across processes that loses no update."""

from __future__ import annotations

import mmap
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lb._native import SharedCounters

ROOT = Path(__file__).resolve().parents[2]
SLOTS = 64
NATIVE = [pytest.param(True, id="native"), pytest.param(False, id="python")]


@pytest.fixture
def shm() -> Iterator[tuple[mmap.mmap, int]]:
    fd = os.memfd_create("lb-test-cas", os.MFD_CLOEXEC)
    os.ftruncate(fd, SLOTS * 8)
    mm = mmap.mmap(fd, SLOTS * 8)
    yield mm, fd
    mm.close()
    os.close(fd)


@pytest.mark.parametrize("native", NATIVE)
@pytest.mark.parametrize(
    ("start", "expected", "desired", "previous", "after"),
    [
        (0, 0, 5, 0, 5),  # swap
        (7, 0, 5, 7, 7),  # no swap: the slot keeps its value, the caller sees it
        (-1, -1, 1 << 62, -1, 1 << 62),
        ((1 << 63) - 1, (1 << 63) - 1, -(1 << 63), (1 << 63) - 1, -(1 << 63)),
    ],
)
def test_cas_table(
    native: bool,
    shm: tuple[mmap.mmap, int],
    start: int,
    expected: int,
    desired: int,
    previous: int,
    after: int,
) -> None:
    mm, fd = shm
    c = SharedCounters(mm, fd, native=native)
    c.store(5, start)
    assert c.cas(5, expected, desired) == previous
    assert c.load(5) == after
    assert c.load(4) == 0 and c.load(6) == 0  # neighbours untouched
    with pytest.raises(IndexError):
        c.cas(SLOTS, 0, 1)
    c.close()


_CHILD = """
import mmap, os, sys
from lb._native import SharedCounters
native, fd, n, go = sys.argv[1] == "1", *(int(a) for a in sys.argv[2:])
mm = mmap.mmap(fd, 0)
c = SharedCounters(mm, fd, native=native)
os.read(go, 1)
retries = 0
for _ in range(n):
    seen = c.load(0)
    while True:
        prev = c.cas(0, seen, seen + 1)
        if prev == seen:
            break
        seen = prev
        retries += 1
c.close()
print(retries)
"""


@pytest.mark.parametrize("native", NATIVE)
def test_cas_increment_across_processes(native: bool, shm: tuple[mmap.mmap, int]) -> None:
    mm, fd = shm
    procs, n = 4, 5_000 if native else 1_000
    go_r, go_w = os.pipe()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, "1" if native else "0", str(fd), str(n), str(go_r)],
            pass_fds=(fd, go_r),
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(procs)
    ]
    os.close(go_r)
    os.close(go_w)
    for child in children:
        child.communicate(timeout=120)
        assert child.returncode == 0
    c = SharedCounters(mm, fd, native=native)
    assert c.load(0) == procs * n  # every CAS loop landed exactly once
    c.close()
