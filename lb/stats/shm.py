"""The shared-memory region every lb process maps.

The master creates it once per run (a memfd: no name another run could collide
with) and hands its fd to each worker. Layout, little-endian, 8-byte aligned:

    0   magic            b"LBSHM\\0\\0\\2"
    8   layout version
    16  config generation (written by the master at each reload)
    24  offset of the gauge array
    32  capacity of the gauge array (slots of 8 bytes)
    40  offset of the statistics part (lb.stats.area: slabs, retired, ring), page aligned
    64… gauge array: int64 slots updated atomically (see lb._native.SharedCounters)
    …   statistics part

The region is large but sparse: a memfd allocates a page only when it is first written,
so the generous capacities of the statistics part cost address space, not memory.

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
from lb.stats.area import StatsArea, StatsGeometry

MAGIC = b"LBSHM\0\0\2"
LAYOUT_VERSION = 2
HEADER_SIZE = 64
PAGE = 4096
_HEADER = struct.Struct("<8sQQQQQ")
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
    def server_queue(backend: str, server: str) -> str:
        """Requests waiting for this server in particular (persistence), daemon-wide."""
        return f"srv:{backend}/{server}.queue"

    @staticmethod
    def server_cur_conns(backend: str, server: str) -> str:
        return f"srv:{backend}/{server}.cur_conns"

    # The server state table (lb.stats.server_state): written by the master only.
    SERVER_STATE_VERSION = "servers.state_version"  # bumped after any server state change

    @staticmethod
    def server_state(backend: str, server: str) -> tuple[str, str, str]:
        """The state word, the last check's word, the last change's time (epoch ms)."""
        base = f"srv:{backend}/{server}"
        return f"{base}.state", f"{base}.check", f"{base}.since"


class SharedRegion:
    """One mapped region: header, gauges, and the statistics part."""

    def __init__(self, fd: int, mm: mmap.mmap, capacity: int, stats_offset: int) -> None:
        self.fd = fd
        self.mm = mm
        self.capacity = capacity
        self.counters = SharedCounters(mm, fd)
        self._gauge_base = HEADER_SIZE // 8  # counters index in 8-byte slots from offset 0
        self.stats = StatsArea(mm, stats_offset)

    # -- creation / attachment

    @classmethod
    def create(cls, capacity: int = 65536, stats: StatsGeometry | None = None) -> SharedRegion:
        geometry = stats or StatsGeometry()
        fd = os.memfd_create("lb-shm", os.MFD_CLOEXEC)
        stats_offset = -(-(HEADER_SIZE + capacity * 8) // PAGE) * PAGE
        size = stats_offset + geometry.size
        os.ftruncate(fd, size)
        mm = mmap.mmap(fd, size)
        _HEADER.pack_into(mm, 0, MAGIC, LAYOUT_VERSION, 0, HEADER_SIZE, capacity, stats_offset)
        geometry.write(mm, stats_offset)
        return cls(fd, mm, capacity, stats_offset)

    @classmethod
    def attach(cls, fd: int) -> SharedRegion:
        size = os.fstat(fd).st_size
        mm = mmap.mmap(fd, size)
        magic, version, _gen, offset, capacity, stats_offset = _HEADER.unpack_from(mm, 0)
        if magic != MAGIC or version != LAYOUT_VERSION or offset != HEADER_SIZE:
            mm.close()
            raise RuntimeError(f"shared memory layout mismatch: {magic!r} v{version}")
        return cls(fd, mm, capacity, stats_offset)

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
        self.stats.close()  # and so does the statistics part's view
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
