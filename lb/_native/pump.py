"""One-direction byte pumps for the L4 relay: src fd -> dst fd until something would block.

Every pump has the same contract (the worker treats them interchangeably):

- ``run()`` moves as much as it can without blocking and returns ``(delivered, Stop)``;
  the worker then waits for the readiness that the Stop names and calls ``run()`` again;
- ``pending`` bytes are held between calls (read from src, not yet accepted by dst); the
  pump reads from src only when it holds nothing, so SRC_AGAIN means "src is empty" and EOF
  means "src finished and every byte read has been delivered";
- ``moved`` is the total delivered to dst, ``errno`` the error of the last *_ERROR stop;
- the buffer (pipe or bytearray) is taken at the start of ``run()`` and given back at its end
  whenever nothing is held, so an idle connection pins no pipe and no buffer.

The fds are borrowed: a pump never closes them.  SIGPIPE must be ignored (CPython does so at
start-up) so that writing to a closed peer gives EPIPE instead of killing the worker.
"""

from __future__ import annotations

import errno as _errno
import os
from typing import Any

from lb._native import _ext
from lb._native._stop import STOPS, Stop
from lb._native.pipes import PipePool

_ffi = _ext.ffi
# bound once: saves two attribute lookups per run()
_splice_pump = _ext.lib.lb_splice_pump if _ext.lib is not None else None

_SRC_AGAIN = Stop.SRC_AGAIN
_DST_AGAIN = Stop.DST_AGAIN
_EOF = Stop.EOF
_SRC_ERROR = Stop.SRC_ERROR
_DST_ERROR = Stop.DST_ERROR
_BUDGET = Stop.BUDGET

DEFAULT_BUDGET = 16 << 20

_SPLICE_FLAGS = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
_splice = os.splice
_readv = os.readv
_write = os.write


def _check_budget(budget: int) -> int:
    if budget <= 0:
        raise ValueError("budget must be > 0")
    return budget


class SplicePump:
    """src socket -> pipe -> dst socket with splice(2), zero-copy; one C call per ``run()``.

    ``SplicePump(..., native=False)`` (or no extension) returns the pure-Python twin,
    ``_PySplicePump``, which makes the same syscalls in the same order through ``os.splice``.
    """

    __slots__ = (
        "_budget",
        "_chunk",
        "_dst",
        "_pool",
        "_r",
        "_src",
        "_st",
        "_w",
        "errno",
        "moved",
        "pending",
    )

    native: bool = True

    def __new__(
        cls,
        src_fd: int,
        dst_fd: int,
        pool: PipePool,
        budget: int = DEFAULT_BUDGET,
        native: bool | None = None,
    ) -> SplicePump:
        if cls is SplicePump and not _ext.use_native(native):
            cls = _PySplicePump
        return object.__new__(cls)

    def __init__(
        self,
        src_fd: int,
        dst_fd: int,
        pool: PipePool,
        budget: int = DEFAULT_BUDGET,
        native: bool | None = None,
    ) -> None:
        self._src: int = src_fd
        self._dst: int = dst_fd
        self._pool: PipePool = pool
        self._budget: int = _check_budget(budget)
        # one read asks for a whole pipe's worth; the kernel trims it to the room in the pipe
        self._chunk: int = pool.size
        self._r: int = -1  # pipe fds while one is held, else -1
        self._w: int = -1
        self.pending: int = 0
        self.moved: int = 0
        self.errno: int = 0
        # C-side state, allocated once so run() allocates nothing
        self._st: Any = _ffi.new("struct lb_pump_state *") if self.native else None

    def run(self) -> tuple[int, Stop]:
        """Pump until a side would block, EOF, an error or the budget; see the module doc."""
        r = self._r
        if r < 0:
            r, self._w = self._pool.get()
            self._r = r
        st = self._st
        n: int = _splice_pump(self._src, r, self._w, self._dst, self._chunk, self._budget, st)
        self.moved += n
        pending = self.pending = st.pending
        if not pending:
            self._pool.put(r, self._w)
            self._r = -1
        self.errno = st.err
        return n, STOPS[st.stop]

    def close(self) -> None:
        """Give the pipe back (closed instead if it still holds bytes).  Idempotent."""
        r = self._r
        if r >= 0:
            self._r = -1
            if self.pending:
                self._pool.discard(r, self._w)
            else:
                self._pool.put(r, self._w)
        # a run() after close() fails with EBADF (SRC_ERROR) instead of touching reused fds
        self._src = self._dst = -1


class _PySplicePump(SplicePump):
    """Pure-Python SplicePump: the same loop as lb_splice_pump in pump.c, via os.splice."""

    __slots__ = ()

    native = False

    def run(self) -> tuple[int, Stop]:
        r = self._r
        w = self._w
        if r < 0:
            r, w = self._pool.get()
            self._r = r
            self._w = w
        src = self._src
        dst = self._dst
        budget = self._budget
        chunk = self._chunk
        pending = self.pending
        delivered = 0
        err = 0
        while True:
            # 1. drain the pipe into dst
            if pending:
                try:
                    n = _splice(r, dst, pending, flags=_SPLICE_FLAGS)
                except BlockingIOError:
                    stop = _DST_AGAIN
                    break
                except InterruptedError:
                    continue
                except OSError as exc:
                    stop, err = _DST_ERROR, exc.errno or _errno.EIO
                    break
                if not n:  # cannot happen for a socket; never spin on it
                    stop, err = _DST_ERROR, _errno.EIO
                    break
                pending -= n
                delivered += n
                continue
            # 2. pipe empty: fairness check before reading more
            if delivered >= budget:
                stop = _BUDGET
                break
            # 3. refill the (empty) pipe from src
            try:
                n = _splice(src, w, chunk, flags=_SPLICE_FLAGS)
            except BlockingIOError:
                stop = _SRC_AGAIN
                break
            except InterruptedError:
                continue
            except OSError as exc:
                stop, err = _SRC_ERROR, exc.errno or _errno.EIO
                break
            if not n:
                stop = _EOF
                break
            pending = n
        self.moved += delivered
        self.pending = pending
        if not pending:
            self._pool.put(r, w)
            self._r = -1
        self.errno = err
        return delivered, stop


class BufferPool:
    """Recycled fixed-size buffers for CopyPumps (single-threaded, like PipePool).

    Buffers are handed out as memoryviews so that slicing for partial writes copies nothing.
    """

    __slots__ = ("_idle", "bufsize", "in_use", "keep")

    def __init__(self, bufsize: int = 256 << 10, keep: int = 64) -> None:
        if bufsize <= 0:
            raise ValueError("bufsize must be > 0")
        self.bufsize: int = bufsize
        self.keep: int = keep
        self.in_use: int = 0
        self._idle: list[memoryview] = []

    @property
    def idle(self) -> int:
        return len(self._idle)

    def get(self) -> memoryview:
        self.in_use += 1
        if self._idle:
            return self._idle.pop()
        return memoryview(bytearray(self.bufsize))

    def put(self, buf: memoryview) -> None:
        self.in_use -= 1
        if len(self._idle) < self.keep:
            self._idle.append(buf)


# One shared BufferPool per buffer size, for CopyPumps created without an explicit pool.
_default_buffers: dict[int, BufferPool] = {}


class CopyPump:
    """src fd -> bytearray -> dst fd with readv/write: the same contract as SplicePump.

    For what cannot splice (and the reference behaviour of a pump).  The syscalls are readv(2)
    and write(2) on the raw fds, the fd-level equivalents of recv_into/send without flags, so the
    pump needs no socket object that would claim ownership of the fds.
    """

    __slots__ = ("_budget", "_buf", "_bufs", "_dst", "_off", "_src", "errno", "moved", "pending")

    native: bool = False

    def __init__(
        self,
        src_fd: int,
        dst_fd: int,
        bufsize: int = 256 << 10,
        budget: int = DEFAULT_BUDGET,
        buffers: BufferPool | None = None,
    ) -> None:
        if buffers is None:
            buffers = _default_buffers.get(bufsize)
            if buffers is None:
                buffers = _default_buffers[bufsize] = BufferPool(bufsize)
        self._src: int = src_fd
        self._dst: int = dst_fd
        self._bufs: BufferPool = buffers
        self._budget: int = _check_budget(budget)
        self._buf: memoryview | None = None  # held only while bytes are pending
        self._off: int = 0  # start of the pending bytes in _buf
        self.pending: int = 0
        self.moved: int = 0
        self.errno: int = 0

    def run(self) -> tuple[int, Stop]:
        buf = self._buf
        if buf is None:
            buf = self._buf = self._bufs.get()
        src = self._src
        dst = self._dst
        budget = self._budget
        iov = (buf,)
        off = self._off
        pending = self.pending
        delivered = 0
        err = 0
        while True:
            if pending:
                try:
                    n = _write(dst, buf[off : off + pending])
                except BlockingIOError:
                    stop = _DST_AGAIN
                    break
                except InterruptedError:
                    continue
                except OSError as exc:
                    stop, err = _DST_ERROR, exc.errno or _errno.EIO
                    break
                if not n:
                    stop, err = _DST_ERROR, _errno.EIO
                    break
                off += n
                pending -= n
                delivered += n
                continue
            if delivered >= budget:
                stop = _BUDGET
                break
            try:
                n = _readv(src, iov)
            except BlockingIOError:
                stop = _SRC_AGAIN
                break
            except InterruptedError:
                continue
            except OSError as exc:
                stop, err = _SRC_ERROR, exc.errno or _errno.EIO
                break
            if not n:
                stop = _EOF
                break
            off = 0
            pending = n
        self.moved += delivered
        self.pending = pending
        self._off = off
        if not pending:
            self._bufs.put(buf)
            self._buf = None
        self.errno = err
        return delivered, stop

    def close(self) -> None:
        """Give the buffer back (pending bytes are dropped).  Idempotent."""
        buf = self._buf
        if buf is not None:
            self._buf = None
            self.pending = 0
            self._bufs.put(buf)
        self._src = self._dst = -1
