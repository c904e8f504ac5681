"""The shared-memory region every lb process maps.

The master creates it once per run (a memfd: no name another run could collide
with) and hands its fd to each worker. Layout, little-endian, 8-byte aligned:

    0   magic            b"LBSHM\\0\\0\\1"
    8   layout version
    16  config generation (written by the master at each reload)
    24  offset of the gauge array
    32  capacity of the gauge array (slots of 8 bytes)
    64… gauge array: int64 slots updated atomically (see lb._native.SharedCounters)

Gauges are addressed by name ("global.cur_conns", "fe:web.cur_conns", …). The
master owns the name → slot table and never reuses a slot for another name in
the life of a region, so a counter keeps its value across reloads and two
generations that overlap during a reload share the same limits.
"""

from __future__ import annotations

import mmap
import os
import struct

from lb._native import SharedCounters

MAGIC = b"LBSHM\0\0\1"
LAYOUT_VERSION = 1
HEADER_SIZE = 64
_HEADER = struct.Struct("<8sQQQQ")
_GENERATION_OFFSET = 16


class GaugeNames:
    """Names of the gauges every worker uses; one place so master and worker agree."""

    GLOBAL_CUR_CONNS = "global.cur_conns"
    GLOBAL_CUM_CONNS = "global.cum_conns"

    @staticmethod
    def frontend_cur_conns(name: str) -> str:
        return f"fe:{name}.cur_conns"

    @staticmethod
    def frontend_cum_conns(name: str) -> str:
        return f"fe:{name}.cum_conns"

    @staticmethod
    def backend_rr_position(name: str) -> str:
        return f"be:{name}.rr_position"

    @staticmethod
    def server_cur_conns(backend: str, server: str) -> str:
        return f"srv:{backend}/{server}.cur_conns"


class SharedRegion:
    """One mapped region: header plus gauges."""

    def __init__(self, fd: int, mm: mmap.mmap, capacity: int) -> None:
        self.fd = fd
        self.mm = mm
        self.capacity = capacity
        self.counters = SharedCounters(mm, fd)
        self._gauge_base = HEADER_SIZE // 8  # counters index in 8-byte slots from offset 0

    # -- creation / attachment

    @classmethod
    def create(cls, capacity: int = 65536) -> SharedRegion:
        fd = os.memfd_create("lb-shm", os.MFD_CLOEXEC)
        size = HEADER_SIZE + capacity * 8
        os.ftruncate(fd, size)
        mm = mmap.mmap(fd, size)
        _HEADER.pack_into(mm, 0, MAGIC, LAYOUT_VERSION, 0, HEADER_SIZE, capacity)
        return cls(fd, mm, capacity)

    @classmethod
    def attach(cls, fd: int) -> SharedRegion:
        size = os.fstat(fd).st_size
        mm = mmap.mmap(fd, size)
        magic, version, _gen, offset, capacity = _HEADER.unpack_from(mm, 0)
        if magic != MAGIC or version != LAYOUT_VERSION or offset != HEADER_SIZE:
            raise RuntimeError(f"shared memory layout mismatch: {magic!r} v{version}")
        return cls(fd, mm, capacity)

    # -- header

    @property
    def generation(self) -> int:
        return struct.unpack_from("<Q", self.mm, _GENERATION_OFFSET)[0]

    @generation.setter
    def generation(self, value: int) -> None:
        struct.pack_into("<Q", self.mm, _GENERATION_OFFSET, value)

    # -- gauges by slot

    def counter_index(self, slot: int) -> int:
        """SharedCounters index of gauge slot ``slot``."""
        if not 0 <= slot < self.capacity:
            raise IndexError(slot)
        return self._gauge_base + slot

    def load(self, slot: int) -> int:
        return self.counters.load(self._gauge_base + slot)

    def close(self) -> None:
        self.counters.close()  # the native counters pin the mapping
        self.mm.close()
        os.close(self.fd)


class GaugeTable:
    """The master's name → slot table. Slots are handed out once and never reused."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.slots: dict[str, int] = {}

    def slot(self, name: str) -> int:
        slot = self.slots.get(name)
        if slot is None:
            if len(self.slots) >= self.capacity:
                raise RuntimeError("shared memory gauge table is full")
            slot = self.slots[name] = len(self.slots)
        return slot
