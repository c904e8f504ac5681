"""A pool of kernel pipes for splice(2) pumps.

Pipes are the scarce resource of an L4 proxy: two fds each, and with F_SETPIPE_SZ up to 1 MiB of
kernel buffer each, charged to the user's pipe-user-pages-soft quota.  Pumps therefore take a
pipe only while bytes are in flight and give it back as soon as it is empty, and the pool keeps a
bounded number of empty ones around so that a busy worker does not pay pipe2 + fcntl per event.
"""

from __future__ import annotations

import errno
import fcntl
import os

_PAGE = os.sysconf("SC_PAGE_SIZE")
_FLAGS = os.O_NONBLOCK | os.O_CLOEXEC
# Refusals that mean "not that big": EPERM above /proc/sys/fs/pipe-max-size (without
# CAP_SYS_RESOURCE) or over pipe-user-pages-soft, ENOMEM when the kernel cannot allocate the ring,
# EINVAL for sizes beyond 2 GiB.  Anything else is a real error.
_TOO_BIG = frozenset((errno.EPERM, errno.ENOMEM, errno.EINVAL))


def grow_pipe(fd: int, size: int) -> int:
    """Ask for a pipe capacity of ``size``, halving on refusal; return the capacity granted."""
    want = size
    while want >= _PAGE:
        try:
            # returns the capacity actually set (rounded up to a power-of-two number of pages)
            return fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, want)
        except OSError as exc:
            if exc.errno not in _TOO_BIG:
                raise
        want >>= 1
    # even one page was refused (quota exhausted): keep whatever the kernel gave at creation
    return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)


class PipePool:
    """Non-blocking, close-on-exec pipes grown to ``size``, recycled up to ``keep`` idle ones.

    Single-threaded by design (one pool per worker event loop).  ``get()`` raises OSError
    (EMFILE/ENFILE) when no pipe can be made; the caller may then fall back to a CopyPump.
    """

    __slots__ = ("_closed", "_idle", "in_use", "keep", "pipe_size", "size")

    def __init__(self, size: int = 1 << 20, keep: int = 64) -> None:
        if size < _PAGE:
            raise ValueError(f"pipe size {size} is below one page ({_PAGE})")
        if keep < 0:
            raise ValueError("keep must be >= 0")
        self.size: int = size  # requested capacity
        self.keep: int = keep  # idle pipes kept for reuse
        self.pipe_size: int = 0  # capacity granted to the last pipe made (0: none made yet)
        self.in_use: int = 0  # pipes handed out by get() and not yet put()/discard()ed
        self._idle: list[tuple[int, int]] = []
        self._closed: bool = False

    @property
    def idle(self) -> int:
        """Empty pipes waiting in the pool."""
        return len(self._idle)

    def get(self) -> tuple[int, int]:
        """A pipe as (read_fd, write_fd); empty, non-blocking, close-on-exec."""
        pipe = self._idle.pop() if self._idle else self._make()
        self.in_use += 1
        return pipe

    def put(self, r: int, w: int) -> None:
        """Return an EMPTY pipe.  Kept for reuse up to ``keep``, otherwise closed."""
        self.in_use -= 1
        if self._closed or len(self._idle) >= self.keep:
            os.close(r)
            os.close(w)
        else:
            self._idle.append((r, w))

    def discard(self, r: int, w: int) -> None:
        """Return a pipe that may still hold bytes: it is closed, never reused."""
        self.in_use -= 1
        os.close(r)
        os.close(w)

    def close(self) -> None:
        """Close the idle pipes; pipes still in use are closed when they come back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for r, w in idle:
            os.close(r)
            os.close(w)

    def _make(self) -> tuple[int, int]:
        r, w = os.pipe2(_FLAGS)
        try:
            self.pipe_size = grow_pipe(w, self.size)
        except BaseException:
            os.close(r)
            os.close(w)
            raise
        return r, w
