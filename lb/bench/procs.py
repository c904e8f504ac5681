"""Process bookkeeping through /proc: identity by (pid, start time), liveness, descendants,
CPU time and memory.

lb-bench (and the test suite, through tests/support/procs.py) kills what it started by pid,
never by name. A pid is only trusted together with the start time the kernel recorded for
it, so a recycled pid is never mistaken for ours.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcStat:
    pid: int
    state: str
    ppid: int
    start: int  # clock ticks since boot: with pid, identifies one process
    utime: int
    stime: int


def read_stat(pid: int) -> ProcStat | None:
    """Parse /proc/PID/stat; None when the process does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm is parenthesised and may itself contain spaces or parentheses.
    rest = raw[raw.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state); field N is rest[N - 3].
    return ProcStat(
        pid=pid,
        state=rest[0],
        ppid=int(rest[1]),
        start=int(rest[19]),
        utime=int(rest[11]),
        stime=int(rest[12]),
    )


@dataclass(frozen=True)
class ProcRef:
    """One process, as identified at the moment we saw it."""

    pid: int
    start: int

    @classmethod
    def of(cls, pid: int) -> ProcRef | None:
        st = read_stat(pid)
        return None if st is None else cls(pid, st.start)

    def alive(self) -> bool:
        """True while the process runs (a zombie is dead: it only waits to be reaped)."""
        st = read_stat(self.pid)
        return st is not None and st.start == self.start and st.state not in ("Z", "X")

    def kill(self, sig: int = signal.SIGKILL) -> bool:
        """Send sig if this is still the same process; True if it was sent."""
        if not self.alive():
            return False
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return False
        return True


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for pid in all_pids():
        st = read_stat(pid)
        if st is not None:
            kids.setdefault(st.ppid, []).append(pid)
    return kids


def children(pid: int) -> list[int]:
    """Direct children of pid: cheap through /proc/PID/task/*/children, else a /proc scan."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
        out: list[int] = []
        for tid in tasks:
            with contextlib.suppress(FileNotFoundError):
                listed = Path(f"/proc/{pid}/task/{tid}/children").read_text()
                out += [int(c) for c in listed.split()]
        return out
    except FileNotFoundError:
        return children_map().get(pid, [])


def descendants(pid: int) -> list[ProcRef]:
    """Every live descendant of pid (children, grandchildren, …)."""
    kids = children_map()
    out: list[ProcRef] = []
    todo = list(kids.get(pid, []))
    while todo:
        p = todo.pop()
        ref = ProcRef.of(p)
        if ref is not None and ref.alive():
            out.append(ref)
        todo.extend(kids.get(p, []))
    return out


def wait_gone(refs: list[ProcRef], timeout: float, poll: float = 0.02) -> list[ProcRef]:
    """Wait until none of refs is alive; return those still alive at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        left = [r for r in refs if r.alive()]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(poll)


def cpu_ticks(refs: list[ProcRef]) -> dict[ProcRef, int]:
    """utime + stime of each live process, in clock ticks."""
    out: dict[ProcRef, int] = {}
    for r in refs:
        st = read_stat(r.pid)
        if st is not None and st.start == r.start:
            out[r] = st.utime + st.stime
    return out


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(refs: list[ProcRef]) -> float:
    """utime + stime summed over the live processes of refs, in seconds."""
    return sum(cpu_ticks(refs).values()) / CLOCK_TICKS


def cpu_delta(before: dict[ProcRef, int], after: dict[ProcRef, int]) -> float:
    """CPU seconds spent between two cpu_ticks() readings.

    A process present only in ``after`` (a worker born during the run) counts from zero;
    one gone by ``after`` counts up to ``before`` only (its last ticks are lost: /proc
    forgets a reaped process).
    """
    return sum(t - before.get(r, 0) for r, t in after.items()) / CLOCK_TICKS


@dataclass(frozen=True)
class Memory:
    """Resident memory of a set of processes, in bytes."""

    rss: int
    pss: int  # shared pages divided among the processes sharing them: sums without double counting


def memory(refs: list[ProcRef]) -> Memory:
    """RSS and PSS of refs from /proc/PID/smaps_rollup (RSS from statm where that is missing)."""
    rss = pss = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for r in refs:
        try:
            text = Path(f"/proc/{r.pid}/smaps_rollup").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            try:
                statm = Path(f"/proc/{r.pid}/statm").read_text().split()
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            rss += int(statm[1]) * page
            pss += int(statm[1]) * page
            continue
        for line in text.splitlines():
            key, _, rest = line.partition(":")
            if key == "Rss":
                rss += int(rest.split()[0]) * 1024
            elif key == "Pss":
                pss += int(rest.split()[0]) * 1024
    return Memory(rss, pss)


@dataclass
class Target:
    """A proxy or server a benchmark started: its port, its process, and every descendant."""

    name: str
    port: int
    proc: subprocess.Popen[bytes] | None = None
    master: ProcRef | None = None

    def processes(self) -> list[ProcRef]:
        if self.master is None or not self.master.alive():
            return []
        return [self.master, *descendants(self.master.pid)]

    def stop(self) -> None:
        """SIGTERM (SIGKILL after 5 s), then SIGKILL whatever of it is left, by pid."""
        if self.proc is None:
            return
        refs = self.processes()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for r in refs:
            r.kill(signal.SIGKILL)
