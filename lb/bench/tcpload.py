"""Bulk TCP streams of one generator process: the kernel moves the bytes, Python only loops.

Upload (``up``): the stream announces itself with ``U`` to an ``lb-bench serve`` TCP port
(or anything that drains and answers the byte count the same way), then sends with
``os.sendfile`` from a memfd until the duration ends, half-closes, and waits for the
receiver's 8-byte count: the bytes reported are the bytes the receiver says it got, and a
count that differs from what was sent is an error. Download (``down``): the stream asks with
``D`` + 8 zero bytes for an endless stream and drains it with ``splice`` into /dev/null
(``recv_into`` a preallocated buffer where splice is missing) until the duration ends.

One thread per stream: each blocks in a system call that moves megabytes and releases the
GIL, so a process drives several streams. A stall longer than the timeout is an error
(SO_SNDTIMEO/SO_RCVTIMEO bound every call).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import resource
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

CHUNK = 4 << 20  # bytes per sendfile/splice call: ~1 ms at 30 Gbit/s, so the deadline is kept
MEMFD_SIZE = 16 << 20
F_SETPIPE_SZ = 1031
PIPE_SIZE = 1 << 20
ACK = struct.Struct("!Q")


@dataclass
class TcpJob:
    host: str
    port: int
    streams: int
    duration: float
    direction: str = "up"  # "up": client → server; "down": server → client
    timeout: float = 5.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TcpJob:
        return cls(**d)


@dataclass
class TcpCounts:
    bytes: int = 0  # verified: acknowledged by the receiver (up) or received (down)
    sent: int = 0  # up: what left this side
    streams: int = 0  # streams that finished cleanly
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    cpu_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TcpCounts:
        return cls(**d)

    def merge(self, o: TcpCounts) -> None:
        self.bytes += o.bytes
        self.sent += o.sent
        self.streams += o.streams
        for k, v in o.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v
        self.elapsed = max(self.elapsed, o.elapsed)
        self.cpu_s += o.cpu_s


def error_kind(e: BaseException) -> str:
    if isinstance(e, ConnectionRefusedError):
        return "connect_refused"
    if isinstance(e, ConnectionResetError | BrokenPipeError):
        return "reset"
    if isinstance(e, TimeoutError) or (
        isinstance(e, OSError) and e.errno in (errno.EAGAIN, errno.ETIMEDOUT)
    ):
        return "timeout"
    return "error"


def _timeval(seconds: float) -> bytes:
    return struct.pack("ll", int(seconds), int((seconds % 1) * 1e6))


def _payload() -> int:
    """A memfd full of bytes to sendfile from (content irrelevant, but not a sparse hole)."""
    fd = os.memfd_create("lb-bench-tcp")
    block = bytes(range(256)) * 4096
    for _ in range(MEMFD_SIZE // len(block)):
        os.write(fd, block)
    return fd


class Stream:
    """One connection and its thread."""

    def __init__(self, job: TcpJob, payload: int) -> None:
        self.job = job
        self.payload = payload
        self.sock: socket.socket | None = None
        self.moved = 0
        self.sent = 0
        self.error: str | None = None
        self.end = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.t0 = 0.0

    def connect(self) -> None:
        job = self.job
        s = socket.create_connection((job.host, job.port), timeout=job.timeout)
        s.settimeout(None)  # blocking: os.sendfile/os.splice need it; the timeouts below bound it
        tv = _timeval(job.timeout)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
        if job.direction == "up":
            s.sendall(b"U")
        self.sock = s

    def start(self, t0: float) -> None:
        self.t0 = t0
        self.thread.start()

    def _run(self) -> None:
        try:
            if self.job.direction == "up":
                self._up()
            else:
                self._down()
        except OSError as e:
            self.error = error_kind(e)
        finally:
            self.end = time.monotonic()
            if self.sock is not None:
                self.sock.close()

    def _up(self) -> None:
        assert self.sock is not None
        fd = self.sock.fileno()
        deadline = self.t0 + self.job.duration
        off = 0
        while time.monotonic() < deadline:
            n = os.sendfile(fd, self.payload, off, min(CHUNK, MEMFD_SIZE - off))
            self.sent += n
            off = (off + n) % MEMFD_SIZE
        self.sock.shutdown(socket.SHUT_WR)
        ack = b""
        while len(ack) < ACK.size:
            b = self.sock.recv(ACK.size - len(ack))
            if not b:
                break
            ack += b
        if len(ack) != ACK.size:
            self.error = "no_ack"
            return
        (self.moved,) = ACK.unpack(ack)
        if self.moved != self.sent:
            self.error = "short"

    def _down(self) -> None:
        assert self.sock is not None
        self.sock.sendall(b"D" + ACK.pack(0))
        fd = self.sock.fileno()
        deadline = self.t0 + self.job.duration
        try:
            r, w = os.pipe()
        except OSError:
            r = w = -1
        if r >= 0:
            with contextlib.suppress(OSError):
                fcntl.fcntl(w, F_SETPIPE_SZ, PIPE_SIZE)
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                while time.monotonic() < deadline:
                    n = os.splice(fd, w, CHUNK)
                    if n == 0:
                        self.error = "eof"
                        return
                    self.moved += n
                    while n:
                        n -= os.splice(r, null, n)
            finally:
                for f in (r, w, null):
                    os.close(f)
            return
        buf = bytearray(1 << 20)
        while time.monotonic() < deadline:
            n = self.sock.recv_into(buf)
            if n == 0:
                self.error = "eof"
                return
            self.moved += n


class TcpRun:
    """The streams of one process: connect (prepare), then run from a common start."""

    def __init__(self, job: TcpJob) -> None:
        self.job = job
        self.payload = _payload() if job.direction == "up" else -1
        self.streams = [Stream(job, self.payload) for _ in range(job.streams)]
        self.counts = TcpCounts()

    def prepare(self) -> int:
        ok = 0
        for s in self.streams:
            try:
                s.connect()
                ok += 1
            except OSError as e:
                s.error = error_kind(e)
        return ok

    def run(self) -> TcpCounts:
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        live = [s for s in self.streams if s.sock is not None]
        for s in live:
            s.start(t0)
        for s in live:
            s.thread.join()
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        c = self.counts
        for s in self.streams:
            c.bytes += s.moved
            c.sent += s.sent
            if s.error:
                c.errors[s.error] = c.errors.get(s.error, 0) + 1
            else:
                c.streams += 1
        c.elapsed = max((s.end - t0 for s in live), default=0.0)
        c.cpu_s = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        if self.payload >= 0:
            os.close(self.payload)
        return c
