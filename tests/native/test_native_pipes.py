"""PipePool: flags, sizing (and its fallbacks when the kernel refuses), recycling, counts."""

from __future__ import annotations

import errno
import fcntl
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lb._native import PipePool
from lb._native.pipes import grow_pipe

ROOT = Path(__file__).resolve().parents[2]
CAP_SYS_RESOURCE = 24
PR_CAPBSET_DROP = 24


def pipe_max_size() -> int:
    return int(Path("/proc/sys/fs/pipe-max-size").read_text())


def has_cap_sys_resource() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_SYS_RESOURCE & 1)
    return False


def open_fds() -> set[int]:
    return {int(n) for n in os.listdir("/proc/self/fd")}


def test_pipes_are_nonblocking_cloexec_and_1mib() -> None:
    pool = PipePool()
    r, w = pool.get()
    for fd in (r, w):
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    granted = fcntl.fcntl(w, fcntl.F_GETPIPE_SZ)
    assert pool.pipe_size == granted
    if pipe_max_size() >= 1 << 20 or has_cap_sys_resource():
        assert granted == 1 << 20
    pool.put(r, w)
    pool.close()


def test_counts_reuse_and_keep() -> None:
    pool = PipePool(size=1 << 16, keep=2)
    assert (pool.in_use, pool.idle, pool.pipe_size) == (0, 0, 0)
    pipes = [pool.get() for _ in range(4)]
    assert (pool.in_use, pool.idle) == (4, 0)
    for p in pipes:
        pool.put(*p)
    assert (pool.in_use, pool.idle) == (0, 2)
    # the two over `keep` were closed; the kept ones are handed out again (LIFO)
    for r, w in pipes[2:]:
        for fd in (r, w):
            with pytest.raises(OSError) as e:
                os.fstat(fd)
            assert e.value.errno == errno.EBADF
    again = pool.get()
    assert again == pipes[1]
    pool.discard(*again)  # closed, not kept
    assert (pool.in_use, pool.idle) == (0, 1)
    with pytest.raises(OSError):
        os.fstat(again[0])
    late = pool.get()
    pool.close()
    assert pool.idle == 0
    pool.put(*late)  # a pipe coming back after close() is closed
    assert (pool.in_use, pool.idle) == (0, 0)
    with pytest.raises(OSError):
        os.fstat(late[0])


def test_keep_zero_keeps_nothing() -> None:
    pool = PipePool(keep=0)
    pool.put(*pool.get())
    assert (pool.in_use, pool.idle) == (0, 0)


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        PipePool(size=100)
    with pytest.raises(ValueError):
        PipePool(keep=-1)


def test_fallback_when_refused_above_a_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """EPERM above 256 KiB (as over pipe-user-pages-soft): halve until it is accepted."""
    real = fcntl.fcntl
    asked: list[int] = []

    def fake(fd: int, cmd: int, arg: Any = 0) -> Any:
        if cmd == fcntl.F_SETPIPE_SZ:
            asked.append(arg)
            if arg > 256 << 10:
                raise OSError(errno.EPERM, "refused")
        return real(fd, cmd, arg)

    monkeypatch.setattr(fcntl, "fcntl", fake)
    pool = PipePool(size=1 << 20)
    r, w = pool.get()
    assert asked == [1 << 20, 512 << 10, 256 << 10]
    assert pool.pipe_size == 256 << 10 == real(w, fcntl.F_GETPIPE_SZ)
    pool.put(r, w)
    pool.close()


def test_fallback_when_every_size_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quota exhausted: the pipe is still usable at whatever size the kernel gave it."""
    real = fcntl.fcntl

    def fake(fd: int, cmd: int, arg: Any = 0) -> Any:
        if cmd == fcntl.F_SETPIPE_SZ:
            raise OSError(errno.EPERM, "refused")
        return real(fd, cmd, arg)

    monkeypatch.setattr(fcntl, "fcntl", fake)
    pool = PipePool()
    r, w = pool.get()
    assert pool.pipe_size == real(w, fcntl.F_GETPIPE_SZ) > 0
    pool.put(r, w)
    pool.close()


def test_other_errors_propagate_without_leaking_fds(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fcntl.fcntl

    def fake(fd: int, cmd: int, arg: Any = 0) -> Any:
        if cmd == fcntl.F_SETPIPE_SZ:
            raise OSError(errno.EBADF, "boom")
        return real(fd, cmd, arg)

    monkeypatch.setattr(fcntl, "fcntl", fake)
    pool = PipePool()
    before = open_fds()
    with pytest.raises(OSError):
        pool.get()
    assert open_fds() == before
    assert pool.in_use == 0


def test_absurd_size_falls_back() -> None:
    """2**40 is EINVAL for everyone (and 2 GiB EPERM without CAP_SYS_RESOURCE): halve down."""
    r, w = os.pipe()
    try:
        granted = grow_pipe(w, 1 << 40)
        assert granted == fcntl.fcntl(w, fcntl.F_GETPIPE_SZ)
        assert granted <= 1 << 31
        if not has_cap_sys_resource():
            assert granted <= pipe_max_size()
    finally:
        os.close(r)
        os.close(w)


_UNPRIVILEGED_PROBE = """
import sys
from lb._native import PipePool
pool = PipePool(size=int(sys.argv[1]))
pool.put(*pool.get())
print(pool.pipe_size)
"""


def _drop_cap_sys_resource() -> None:
    """In the child before exec: without it in the bounding set, root's exec loses the cap."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_CAPBSET_DROP, CAP_SYS_RESOURCE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")


def test_fallback_above_pipe_max_size_without_privilege() -> None:
    """A real refusal: above pipe-max-size without CAP_SYS_RESOURCE the kernel says EPERM."""
    limit = pipe_max_size()
    preexec = _drop_cap_sys_resource if has_cap_sys_resource() else None
    try:
        out = subprocess.run(
            [sys.executable, "-c", _UNPRIVILEGED_PROBE, str(4 * limit)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=preexec,
        ).stdout
    except subprocess.SubprocessError as exc:
        if preexec is not None:
            pytest.skip(f"cannot drop CAP_SYS_RESOURCE here: {exc}")
        raise
    granted = int(out)
    # 4x refused, 2x refused, 1x (pipe-max-size, a power-of-two number of pages) accepted
    assert limit // 2 < granted <= limit
