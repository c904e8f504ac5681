"""Daemon-wide 64-bit gauges in shared memory (maxconn, queue lengths) with atomic updates.

The region is an mmap of a memfd that the master creates and every worker maps; a counter is an
8-byte little-endian signed slot, addressed by index (byte offset = index * 8).

Native: GCC ``__atomic`` builtins on the mapping (lock-free, safe across processes and threads).
Fallback: a POSIX byte-range lock (``fcntl.lockf``) on the slot's 8 bytes of the memfd around a
read-modify-write, plus a process-local mutex because POSIX locks belong to the process and do
not exclude threads of the same process.

The two are atomic with respect to themselves, not to each other: every process of one daemon
must use the same kind (they do: the choice is the install plus LB_NATIVE, which workers inherit).
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import struct
import threading
from collections.abc import Iterator
from typing import Any

from lb._native import _ext

_lib = _ext.lib
_ffi = _ext.ffi

_I64_MIN = -(1 << 63)
_I64_SPAN = 1 << 64
_slot = struct.Struct("<q")
_LOCK_EX = fcntl.LOCK_EX
_LOCK_SH = fcntl.LOCK_SH
_LOCK_UN = fcntl.LOCK_UN
_lockf = fcntl.lockf


def _wrap(value: int) -> int:
    """Two's-complement wrap to int64, as the C atomics do on overflow."""
    return (value - _I64_MIN) % _I64_SPAN + _I64_MIN


class SharedCounters:
    """Atomic int64 slots of a shared mapping.  ``native=False`` gives the lockf fallback."""

    __slots__ = ("_base", "_fd", "_lock", "_mm", "size")

    native: bool = True

    def __new__(cls, mm: mmap.mmap, fd: int, native: bool | None = None) -> SharedCounters:
        if cls is SharedCounters and not _ext.use_native(native):
            cls = _PySharedCounters
        return object.__new__(cls)

    def __init__(self, mm: mmap.mmap, fd: int, native: bool | None = None) -> None:
        self._mm: mmap.mmap = mm
        self._fd: int = fd
        self.size: int = len(mm) // 8  # number of slots
        self._lock: threading.Lock | None = None
        # The pointer is taken once: from_buffer pins the mapping (mm.close() raises BufferError
        # until close() releases it), so the cached pointer cannot dangle.
        self._base: Any = (
            _ffi.from_buffer("int64_t[]", mm, require_writable=True) if self.native else None
        )

    def _check(self, index: int) -> None:
        if not 0 <= index < self.size:
            raise IndexError(f"counter index {index} outside 0..{self.size - 1}")

    def add(self, index: int, delta: int) -> int:
        """Atomically add ``delta``; return the new value."""
        if not 0 <= index < self.size:
            self._check(index)
        return _lib.lb_atomic_add(self._base, index, delta)

    def load(self, index: int) -> int:
        if not 0 <= index < self.size:
            self._check(index)
        return _lib.lb_atomic_load(self._base, index)

    def store(self, index: int, value: int) -> None:
        if not 0 <= index < self.size:
            self._check(index)
        _lib.lb_atomic_store(self._base, index, value)

    def try_acquire(self, index: int, limit: int) -> bool:
        """Atomically: if value < limit, value += 1 and True; else False.  limit <= 0: no limit."""
        if not 0 <= index < self.size:
            self._check(index)
        return bool(_lib.lb_atomic_try_acquire(self._base, index, limit))

    def release(self, index: int) -> None:
        """Atomically value -= 1 (the undo of a successful try_acquire)."""
        if not 0 <= index < self.size:
            self._check(index)
        _lib.lb_atomic_add(self._base, index, -1)

    def cas(self, index: int, expected: int, desired: int) -> int:
        """Atomically: if value == expected, value = desired.  Returns the previous value
        (== expected when the swap happened)."""
        if not 0 <= index < self.size:
            self._check(index)
        return _lib.lb_atomic_cas(self._base, index, expected, desired)

    def close(self) -> None:
        """Unpin the mapping so that its owner can close it.  The object is unusable after."""
        base = self._base
        if base is not None:
            self._base = None
            self.size = 0
            _ffi.release(base)


class _PySharedCounters(SharedCounters):
    """Fallback: lockf on the slot's byte range of the memfd around struct read-modify-write."""

    __slots__ = ()

    native = False

    def __init__(self, mm: mmap.mmap, fd: int, native: bool | None = None) -> None:
        if fd < 0:
            raise ValueError("the pure-Python SharedCounters need the memfd to lock")
        super().__init__(mm, fd, native)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self, index: int, mode: int = _LOCK_EX) -> Iterator[int]:
        """The slot's byte range locked (``mode``) for this thread and process; yields its
        offset in the mapping (the caller has checked the index)."""
        off = index * 8
        with self._lock:  # type: ignore[union-attr]
            _lockf(self._fd, mode, 8, off)
            try:
                yield off
            finally:
                _lockf(self._fd, _LOCK_UN, 8, off)

    def _rmw(self, index: int, delta: int, limit: int | None) -> int | None:
        """value += delta under the slot lock; with ``limit``, only if value < limit."""
        self._check(index)
        if not _I64_MIN <= delta < -_I64_MIN:
            raise OverflowError(f"delta {delta} does not fit in int64")
        with self._locked(index) as off:
            value = _slot.unpack_from(self._mm, off)[0]
            if limit is not None and value >= limit:
                return None
            value = _wrap(value + delta)
            _slot.pack_into(self._mm, off, value)
            return value

    def add(self, index: int, delta: int) -> int:
        return self._rmw(index, delta, None)  # type: ignore[return-value]

    def load(self, index: int) -> int:
        self._check(index)
        # shared lock: never observe a half-written slot of a concurrent writer
        with self._locked(index, _LOCK_SH) as off:
            return _slot.unpack_from(self._mm, off)[0]

    def store(self, index: int, value: int) -> None:
        self._check(index)
        if not _I64_MIN <= value < -_I64_MIN:
            raise OverflowError(f"value {value} does not fit in int64")
        with self._locked(index) as off:
            _slot.pack_into(self._mm, off, value)

    def try_acquire(self, index: int, limit: int) -> bool:
        return self._rmw(index, 1, limit if limit > 0 else None) is not None

    def release(self, index: int) -> None:
        self._rmw(index, -1, None)

    def cas(self, index: int, expected: int, desired: int) -> int:
        self._check(index)
        if not _I64_MIN <= desired < -_I64_MIN:
            raise OverflowError(f"value {desired} does not fit in int64")
        with self._locked(index) as off:
            value: int = _slot.unpack_from(self._mm, off)[0]
            if value == expected:
                _slot.pack_into(self._mm, off, desired)
            return value

    def close(self) -> None:
        self.size = 0
