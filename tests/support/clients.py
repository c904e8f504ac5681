"""Client side helpers: free ports, bulk transfers with digests, echo loops that count failures."""

from __future__ import annotations

import errno
import hashlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.support.servers import pattern_chunks

LOCAL = "127.0.0.1"


def free_port(host: str = LOCAL) -> int:
    """A TCP port that nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def connect(port: int, timeout: float = 10.0, host: str = LOCAL) -> socket.socket:
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_all(s: socket.socket, limit: int = 1 << 20) -> bytes:
    """Read to EOF (at most limit bytes)."""
    out = bytearray()
    while len(out) < limit:
        b = s.recv(65536)
        if not b:
            break
        out += b
    return bytes(out)


def recv_line(s: socket.socket, limit: int = 4096) -> bytes:
    out = bytearray()
    while not out.endswith(b"\n") and len(out) < limit:
        b = s.recv(1)
        if not b:
            break
        out += b
    return bytes(out)


def recv_exact(s: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            break
        out += b
    return bytes(out)


def upload(port: int, seed: int, size: int, timeout: float = 60.0) -> tuple[str, int]:
    """Send size pattern bytes to a ``sink`` through port, half-close, read its digest."""
    with connect(port, timeout) as s:
        for chunk in pattern_chunks(seed, size, chunk=1 << 20):
            s.sendall(chunk)
        s.shutdown(socket.SHUT_WR)
        answer = recv_all(s).decode()
    digest, count = answer.split()
    return digest, int(count)


def download(port: int, timeout: float = 60.0) -> tuple[str, int]:
    """Read a ``source`` through port to EOF; return the sha256 and the byte count."""
    h = hashlib.sha256()
    total = 0
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with connect(port, timeout) as s:
        while True:
            n = s.recv_into(buf)
            if n == 0:
                break
            h.update(view[:n])
            total += n
    return h.hexdigest(), total


def echo_roundtrip(port: int, payload: bytes, timeout: float = 5.0) -> bytes:
    with connect(port, timeout) as s:
        s.sendall(payload)
        return recv_exact(s, len(payload))


@dataclass
class LoopStats:
    ok: int = 0
    refused: int = 0
    reset: int = 0
    failed: int = 0  # wrong data, early EOF, timeout, other errors
    errors: list[str] = field(default_factory=list)

    def bad(self) -> int:
        return self.refused + self.reset + self.failed


class EchoLoop(threading.Thread):
    """Open a new connection in a tight loop, do one small echo round-trip on each.

    Every outcome is counted: a refused connect, a reset, or a failed round trip (wrong or
    missing bytes, timeout). ``errors`` keeps a description of each failure with its time.
    """

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.timeout = timeout
        self.stats = LoopStats()
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self.t0 = time.monotonic()

    def run(self) -> None:
        i = 0
        while not self._stop_event.is_set():
            i += 1
            payload = b"ping %d\n" % i
            outcome, detail = self._one(payload)
            with self._lock:
                setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)
                if detail:
                    self.stats.errors.append(f"t+{time.monotonic() - self.t0:.3f}s #{i}: {detail}")

    def _one(self, payload: bytes) -> tuple[str, str]:
        try:
            got = echo_roundtrip(self.port, payload, self.timeout)
        except ConnectionRefusedError as e:
            return "refused", repr(e)
        except ConnectionResetError as e:
            return "reset", repr(e)
        except OSError as e:
            if e.errno in (errno.ECONNRESET, errno.EPIPE):
                return "reset", repr(e)
            return "failed", repr(e)
        if got != payload:
            return "failed", f"sent {payload!r}, got {got!r}"
        return "ok", ""

    def snapshot(self) -> LoopStats:
        with self._lock:
            s = self.stats
            return LoopStats(s.ok, s.refused, s.reset, s.failed, list(s.errors))

    def stop(self) -> LoopStats:
        self._stop_event.set()
        self.join(timeout=self.timeout + 5)
        return self.snapshot()


def wait_for(
    predicate: Callable[[], object], timeout: float, poll: float = 0.05, what: str = ""
) -> float:
    """Poll predicate() until true; return the elapsed seconds, or raise TimeoutError."""
    t0 = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"not true after {timeout}s: {what or predicate}")
        time.sleep(poll)
