"""One stick table over a shared mapping: every worker and the master see the same entries.

Open addressing with linear probing over ``capacity`` slots (lb.sticktable.layout). The
key word of a slot is its state: EMPTY (never used: a probe stops there), DELETED (free
again: a probe goes on), BUSY (being written), or a key's fingerprint. All changes are
lock-free:

- insert: the first free slot of the key's chain goes EMPTY/DELETED → BUSY by
  compare-and-swap; the writer zeroes the entry, writes the key bytes and the touch time,
  then publishes the fingerprint. A reader that meets BUSY waits for it (a few µs), so two
  processes inserting the same key at once end up on the same slot;
- counters: atomic adds; rates: lb.sticktable.freq (CAS on one word);
- delete (the master only: expiry, purge, ``clear table``): fingerprint → BUSY by CAS, a
  last look that nobody tracks or touched the entry meanwhile, then DELETED.

A process that found an entry just before the master deleted it may still count into the
freed slot for a few microseconds; that is the price of having no lock, and it can only
happen to an entry nobody had used for its whole ``expire`` time.
"""

from __future__ import annotations

import mmap
import os
import time
from itertools import compress

from lb._native import SharedCounters
from lb.sticktable import freq
from lb.sticktable.keys import BUSY, DELETED, EMPTY, Key, KeyOf, key_function, show_key
from lb.sticktable.layout import (
    E_TOUCH,
    E_USE,
    ENTRY_HEAD_WORDS,
    H_CAPACITY,
    H_ENTRY_WORDS,
    H_MAGIC,
    H_SIZE,
    H_USED,
    H_VERSION,
    HEADER_WORDS,
    LAYOUT_VERSION,
    MAGIC,
    TableLayout,
)

MAX_PROBE = 512  # slots looked at for one key before the table counts as full
BUSY_SPINS = 1_000  # reads of a BUSY slot before yielding the CPU to its writer
ATTEMPTS = 64  # looks at a key's chain before giving up (a writer that died holds a slot)
_yield = os.sched_yield
_GOLDEN = 0x9E3779B97F4A7C15
_M64 = (1 << 64) - 1


def now_ms() -> int:
    """The tables' clock: CLOCK_MONOTONIC in ms, the same in every process of the host."""
    return time.monotonic_ns() // 1_000_000


class StickTable:
    """A table mapped in this process. ``create`` (master) or ``attach`` (worker)."""

    __slots__ = (
        "_bits",
        "_mask",
        "c",
        "ew",
        "expire",
        "fd",
        "key_of",
        "layout",
        "mm",
        "name",
        "nopurge",
        "o_conn_cnt",
        "o_conn_cur",
        "o_conn_rate",
        "o_err_cnt",
        "o_err_rate",
        "o_req_cnt",
        "o_req_rate",
        "o_sess_cnt",
        "o_sess_rate",
        "p_conn_rate",
        "p_err_rate",
        "p_req_rate",
        "p_sess_rate",
        "view",
    )

    def __init__(
        self, name: str, layout: TableLayout, fd: int, mm: mmap.mmap, nopurge: bool = False
    ) -> None:
        self.name = name
        self.layout = layout
        self.fd = fd
        self.mm = mm
        self.nopurge = nopurge
        self.view = memoryview(mm).cast("q")
        self.c = SharedCounters(mm, fd)
        self.ew = layout.entry_words
        self.expire = layout.expire
        self._mask = layout.capacity - 1
        self._bits = layout.capacity.bit_length() - 1
        self.key_of = key_function(layout.key_type, layout.key_len)
        off, per = layout.offsets, layout.periods
        # word offsets of what the data paths count (-1: not stored)
        self.o_conn_cnt = off.get("conn_cnt", -1)
        self.o_conn_cur = off.get("conn_cur", -1)
        self.o_conn_rate = off.get("conn_rate", -1)
        self.o_sess_cnt = off.get("sess_cnt", -1)
        self.o_sess_rate = off.get("sess_rate", -1)
        self.o_req_cnt = off.get("http_req_cnt", -1)
        self.o_req_rate = off.get("http_req_rate", -1)
        self.o_err_cnt = off.get("http_err_cnt", -1)
        self.o_err_rate = off.get("http_err_rate", -1)
        self.p_conn_rate = per.get("conn_rate", 1)
        self.p_sess_rate = per.get("sess_rate", 1)
        self.p_req_rate = per.get("http_req_rate", 1)
        self.p_err_rate = per.get("http_err_rate", 1)

    @staticmethod
    def key_of_type(key_type: str, length: int = 0) -> KeyOf:
        """How samples become keys for a table of ``key_type`` (tests and tools)."""
        return key_function(key_type, length)

    # ------------------------------------------------------------------ mapping

    @classmethod
    def create(cls, name: str, layout: TableLayout, nopurge: bool = False) -> StickTable:
        fd = os.memfd_create(f"lb-table-{name}"[:200], os.MFD_CLOEXEC)
        os.ftruncate(fd, layout.total_bytes)
        mm = mmap.mmap(fd, layout.total_bytes)
        table = cls(name, layout, fd, mm, nopurge)
        v = table.view
        v[H_MAGIC] = MAGIC
        v[H_VERSION] = LAYOUT_VERSION
        v[H_CAPACITY] = layout.capacity
        v[H_ENTRY_WORDS] = layout.entry_words
        v[H_SIZE] = layout.size
        return table

    @classmethod
    def attach(cls, name: str, layout: TableLayout, fd: int, nopurge: bool = False) -> StickTable:
        size = os.fstat(fd).st_size
        mm = mmap.mmap(fd, size)
        head = memoryview(mm).cast("q")
        found = (head[H_MAGIC], head[H_VERSION], head[H_CAPACITY], head[H_ENTRY_WORDS])
        head.release()
        wanted = (MAGIC, LAYOUT_VERSION, layout.capacity, layout.entry_words)
        if found != wanted or size != layout.total_bytes:
            mm.close()
            raise RuntimeError(f"stick table '{name}': shared layout mismatch {found} != {wanted}")
        return cls(name, layout, fd, mm, nopurge)

    def close(self, close_fd: bool = True) -> None:
        self.c.close()
        self.view.release()
        self.mm.close()
        if close_fd:
            os.close(self.fd)

    # ------------------------------------------------------------------ lookups

    @property
    def used(self) -> int:
        return self.view[H_USED]

    def _start(self, fp: int) -> int:
        return ((fp * _GOLDEN) & _M64) >> (64 - self._bits) if self._bits else 0

    def _wait_busy(self, base: int) -> int:
        v = self.view
        for _ in range(BUSY_SPINS):
            w = v[base]
            if w != BUSY:
                return w
        return BUSY

    def find(self, fp: int, now: int = 0) -> int:
        """The entry of ``fp`` (its first word's index), or -1. With ``now``, an entry past
        its expiry counts as absent (the master deletes it within a second)."""
        v = self.view
        ew, mask = self.ew, self._mask
        i = self._start(fp)
        for _ in range(MAX_PROBE):
            base = HEADER_WORDS + i * ew
            w = v[base]
            if w == BUSY:
                w = self._wait_busy(base)
            if w == fp:
                if now and self.expire and v[base + E_TOUCH] + self.expire <= now:
                    return -1
                return base
            if w == EMPTY:
                return -1
            i = (i + 1) & mask
        return -1

    def get(self, key: Key, now: int) -> int:
        """The entry of ``key``, created if absent, touched; -1 when the table is full."""
        fp = key[0]
        v = self.view
        c = self.c
        ew, mask = self.ew, self._mask
        for _attempt in range(ATTEMPTS):
            i = self._start(fp)
            free = -1
            free_was = EMPTY
            for _ in range(MAX_PROBE):
                base = HEADER_WORDS + i * ew
                w = v[base]
                if w == BUSY:
                    w = self._wait_busy(base)
                    if w == BUSY:
                        # Its writer was preempted (or died): it may be writing our key, so
                        # going past it could insert the key twice. Let it run, look again.
                        _yield()
                        break
                if w == fp:
                    v[base + E_TOUCH] = now
                    return base
                if w == EMPTY:
                    if free < 0:
                        free, free_was = base, EMPTY
                    break
                if w == DELETED and free < 0:
                    free, free_was = base, DELETED
                i = (i + 1) & mask
            if w == BUSY:
                continue
            if free < 0:
                return -1  # no free slot within reach
            if self.nopurge and v[H_USED] >= self.layout.size:
                return -1  # full, and old entries may not make room
            if c.cas(free, free_was, BUSY) != free_was:
                continue  # someone else took it: look again (it may be our key now)
            c.add(H_USED, 1)
            self._write(free, key, now)
            return free
        return -1

    def _write(self, base: int, key: Key, now: int) -> None:
        """Fill a slot this process holds BUSY, then publish it."""
        v = self.view
        ew = self.ew
        v[base + E_USE : base + ew] = memoryview(bytes(8 * (ew - E_USE))).cast("q")
        kw = self.layout.key_words
        data = key[1].ljust(8 * kw, b"\0")[: 8 * kw]
        start = (base + ENTRY_HEAD_WORDS) * 8
        self.mm[start : start + 8 * kw] = data
        v[base + E_TOUCH] = now
        self.c.store(base, key[0])  # (a release store: the entry is complete before it)

    def key_bytes(self, base: int) -> bytes:
        start = (base + ENTRY_HEAD_WORDS) * 8
        return bytes(self.mm[start : start + self.layout.key_len])

    # ------------------------------------------------------------------ data

    def load(self, base: int, name: str, now: int) -> int | None:
        """A stored datum's value (a rate read at ``now``); None when not stored."""
        off = self.layout.offsets.get(name)
        if off is None:
            return None
        period = self.layout.periods.get(name)
        if period is not None:
            return freq.read(self.view, base + off, period, now)  # (plain loads suffice)
        return self.view[base + off]

    def add(self, base: int, name: str, n: int, now: int) -> int | None:
        """Add ``n`` to a counter, or count ``n`` events in a rate; the new value."""
        off = self.layout.offsets.get(name)
        if off is None:
            return None
        period = self.layout.periods.get(name)
        if period is not None:
            freq.update(self.c, base + off, period, now, n)
            return freq.read(self.view, base + off, period, now)
        return self.c.add(base + off, n)

    def touch(self, base: int, now: int) -> None:
        self.view[base + E_TOUCH] = now

    def store(self, base: int, name: str, value: int) -> bool:
        off = self.layout.offsets.get(name)
        if off is None or name in self.layout.periods:
            return False
        self.c.store(base + off, value)
        return True

    def clear_rate(self, base: int, name: str) -> None:
        off = self.layout.offsets.get(name)
        if off is not None and name in self.layout.periods:
            self.c.store(base + off, 0)
            self.c.store(base + off + 1, 0)

    # ------------------------------------------------------------------ what sessions count

    def connection(self, base: int, now: int) -> None:
        """A connection (tcp-request) or a request (http-request) starts tracking the entry."""
        c = self.c
        c.add(base + E_USE, 1)
        if self.o_conn_cur >= 0:
            c.add(base + self.o_conn_cur, 1)
        self._event(base, self.o_conn_cnt, self.o_conn_rate, self.p_conn_rate, now)

    def session(self, base: int, now: int) -> None:
        """A connection tracked at tcp-request connection became a session."""
        self._event(base, self.o_sess_cnt, self.o_sess_rate, self.p_sess_rate, now)

    def request(self, base: int, now: int) -> None:
        """An HTTP request by a tracked client."""
        self._event(base, self.o_req_cnt, self.o_req_rate, self.p_req_rate, now)

    def error(self, base: int, now: int) -> None:
        """An HTTP error by a tracked client (HAProxy's http_err: a 4xx)."""
        self._event(base, self.o_err_cnt, self.o_err_rate, self.p_err_rate, now)

    def _event(self, base: int, cnt: int, rate: int, period: int, now: int) -> None:
        """One event in a counter and its rate, each where the table stores it (-1: not)."""
        if cnt >= 0:
            self.c.add(base + cnt, 1)
        if rate >= 0:
            freq.update(self.c, base + rate, period, now, 1, self.view)

    def release(self, base: int, fp: int, now: int) -> None:
        """The connection or request that tracked the entry is over."""
        if self.view[base] != fp:
            return  # deleted meanwhile (clear table): nothing of ours is left there
        c = self.c
        if self.o_conn_cur >= 0:
            c.add(base + self.o_conn_cur, -1)
        c.add(base + E_USE, -1)
        self.view[base + E_TOUCH] = now

    # ------------------------------------------------------------------ the master's side

    def live(self) -> list[tuple[int, int]]:
        """(base, fingerprint) of every entry, in slot order."""
        return self._scan()[0]

    def _scan(self) -> tuple[list[tuple[int, int]], set[int]]:
        """The entries, and the slots being written. One pass in C over the key words
        (``compress`` skips the empty ones): a few ms for a 100k-entry table."""
        ew = self.ew
        fps = self.view[HEADER_WORDS::ew].tolist()
        live: list[tuple[int, int]] = []
        busy: set[int] = set()
        for i in compress(range(len(fps)), fps):
            f = fps[i]
            if f > BUSY or f < 0:
                live.append((HEADER_WORDS + i * ew, f))
            elif f == BUSY:
                busy.add(HEADER_WORDS + i * ew)
        return live, busy

    def delete(self, base: int, fp: int, *, only_idle_before: int | None = None) -> bool:
        """Delete the entry if nobody tracks it (and, with ``only_idle_before``, if it was
        not touched since). True when it is gone."""
        c = self.c
        if c.cas(base, fp, BUSY) != fp:
            return False
        v = self.view
        touched = v[base + E_TOUCH]
        if v[base + E_USE] > 0 or (only_idle_before is not None and touched > only_idle_before):
            c.store(base, fp)  # in use again: it stays
            return False
        c.store(base, DELETED)
        c.add(H_USED, -1)
        return True

    def sweep(self, now: int, stuck: set[int] | None = None) -> int:
        """Delete what expired; purge the least recently used past ``size`` (unless
        nopurge); free slots whose writer died. Returns how many entries went."""
        if self.view[H_USED] <= 0:  # nothing in it (a slot being written counts as used)
            if stuck is not None:
                stuck.clear()
            return 0
        gone = 0
        entries, busy = self._scan()
        if self.expire:
            limit = now - self.expire
            v = self.view
            keep = []
            for base, fp in entries:
                idle = v[base + E_TOUCH] <= limit and v[base + E_USE] <= 0
                if idle and self.delete(base, fp, only_idle_before=limit):
                    gone += 1
                    continue
                keep.append((base, fp))
            entries = keep
        excess = len(entries) - self.layout.size
        if excess > 0 and not self.nopurge:
            v = self.view
            idle = sorted((v[b + E_TOUCH], b, f) for b, f in entries if v[b + E_USE] <= 0)
            for touched, base, fp in idle[:excess]:
                if self.delete(base, fp, only_idle_before=touched):
                    gone += 1
        if stuck is not None:
            for base in busy & stuck:  # BUSY at two sweeps in a row: its writer is gone
                if self.c.cas(base, BUSY, DELETED) == BUSY:
                    self.c.add(H_USED, -1)
            stuck.clear()
            stuck.update(busy)
        return gone

    def clear(self, fp: int | None = None) -> int:
        """``clear table``: every untracked entry, or the one of ``fp``."""
        gone = 0
        for base, f in self.live():
            if (fp is None or f == fp) and self.delete(base, f):
                gone += 1
        return gone

    def show_key(self, base: int) -> str:
        return show_key(self.layout.key_type, self.key_bytes(base))
