"""SplicePump (native and pure Python) and CopyPump against real sockets.

Every behavioural test runs over the three implementations; the native one is requested with
``native=True`` so that a missing extension FAILS here instead of being skipped.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lb._native import BufferPool, CopyPump, PipePool, SplicePump, Stop

ROOT = Path(__file__).resolve().parents[2]

Pump = SplicePump | CopyPump
PumpFactory = Callable[..., Pump]

PUMP_KINDS = ["splice-native", "splice-python", "copy"]
SOCK_KINDS = ["unix", "tcp"]


def make_pump(kind: str, src: int, dst: int, pool: PipePool, bufs: BufferPool, **kw: int) -> Pump:
    if kind == "splice-native":
        return SplicePump(src, dst, pool, native=True, **kw)
    if kind == "splice-python":
        return SplicePump(src, dst, pool, native=False, **kw)
    return CopyPump(src, dst, bufsize=bufs.bufsize, buffers=bufs, **kw)


def held(kind: str, pool: PipePool, bufs: BufferPool) -> int:
    """Pipes or buffers currently taken by pumps of this kind."""
    return bufs.in_use if kind == "copy" else pool.in_use


def sock_pair(kind: str, small_buffers: bool = False) -> tuple[socket.socket, socket.socket]:
    """A connected stream pair (a, b); with small_buffers, b's receive and a's send are tiny."""
    if kind == "unix":
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        if small_buffers:
            a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        return a, b
    with socket.socket() as lsn:
        lsn.bind(("127.0.0.1", 0))
        if small_buffers:  # inherited by the accepted socket; must precede the handshake
            lsn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lsn.listen(1)
        a = socket.socket()
        if small_buffers:
            a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        a.connect(lsn.getsockname())
        b, _ = lsn.accept()
    return a, b


class Rig:
    """producer -> [src]  pump  [dst] -> consumer; the pump's sockets are non-blocking."""

    def __init__(self, sock_kind: str, small_dst: bool = False) -> None:
        self.producer, self.src = sock_pair(sock_kind)
        self.dst, self.consumer = sock_pair(sock_kind, small_buffers=small_dst)
        self.src.setblocking(False)
        self.dst.setblocking(False)
        self.received = hashlib.sha256()
        self.received_len = 0
        self._threads: list[threading.Thread] = []

    def send_in_background(self, data: bytes, eof: bool = True) -> None:
        def send() -> None:
            try:
                self.producer.sendall(data)
                if eof:
                    self.producer.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # tests that break the pipeline on purpose

        self._start(send)

    def receive_in_background(self) -> None:
        def recv() -> None:
            buf = bytearray(1 << 18)
            while True:
                n = self.consumer.recv_into(buf)
                if not n:
                    return
                self.received.update(memoryview(buf)[:n])
                self.received_len += n

        self._start(recv)

    def _start(self, fn: Callable[[], None]) -> None:
        t = threading.Thread(target=fn, daemon=True)
        t.start()
        self._threads.append(t)

    def join(self, timeout: float = 30.0) -> None:
        for t in self._threads:
            t.join(timeout)
            assert not t.is_alive(), "helper thread hung"

    def close(self) -> None:
        for s in (self.producer, self.src, self.dst, self.consumer):
            s.close()
        self.join()


def wait_fd(fd: int, events: int, timeout: float = 10.0) -> None:
    p = select.poll()
    p.register(fd, events)
    assert p.poll(timeout * 1000), f"fd {fd} not ready for {events:#x} within {timeout}s"


def drive(pump: Pump, rig: Rig, timeout: float = 60.0) -> list[Stop]:
    """Run the pump like the worker does until EOF, checking the contract at every return."""
    stops: list[Stop] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = pump.moved
        n, stop = pump.run()
        stops.append(stop)
        assert n >= 0 and pump.moved == before + n
        if stop is Stop.EOF:
            assert pump.pending == 0
            return stops
        if stop is Stop.SRC_AGAIN:
            assert pump.pending == 0
            wait_fd(rig.src.fileno(), select.POLLIN)
        elif stop is Stop.DST_AGAIN:
            assert pump.pending > 0
            wait_fd(rig.dst.fileno(), select.POLLOUT)
        elif stop is Stop.BUDGET:
            assert pump.pending == 0
        else:
            raise AssertionError(f"unexpected {stop!r}, errno {pump.errno}")
    raise AssertionError("transfer did not finish in time")


def transfer(pump_kind: str, sock_kind: str, data: bytes, budget: int = 16 << 20) -> list[Stop]:
    """Move data producer -> consumer through one pump; check bytes, accounting and EOF."""
    pool = PipePool()
    bufs = BufferPool()
    rig = Rig(sock_kind)
    pump = make_pump(pump_kind, rig.src.fileno(), rig.dst.fileno(), pool, bufs, budget=budget)
    try:
        rig.send_in_background(data)
        rig.receive_in_background()
        stops = drive(pump, rig)
        # EOF was reported: every byte must already be in dst's hands
        assert pump.moved == len(data)
        rig.dst.shutdown(socket.SHUT_WR)
        rig.join()
        assert rig.received_len == len(data)
        assert rig.received.hexdigest() == hashlib.sha256(data).hexdigest()
        assert held(pump_kind, pool, bufs) == 0  # nothing held after EOF
        return stops
    finally:
        pump.close()
        rig.close()
        pool.close()


@pytest.fixture
def pool() -> Iterator[PipePool]:
    p = PipePool()
    yield p
    p.close()


@pytest.fixture
def bufs() -> BufferPool:
    return BufferPool()


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


# --- bulk transfers -------------------------------------------------------------------------


@pytest.mark.parametrize("sock_kind", SOCK_KINDS)
@pytest.mark.parametrize("pump_kind", PUMP_KINDS)
@pytest.mark.parametrize("size", [1 << 20, 10 << 20], ids=["1MiB", "10MiB"])
def test_transfer_bytes_identical(pump_kind: str, sock_kind: str, size: int) -> None:
    transfer(pump_kind, sock_kind, payload(size, seed=size))


@pytest.mark.parametrize("sock_kind", SOCK_KINDS)
@pytest.mark.parametrize("pump_kind", PUMP_KINDS)
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(size=st.integers(min_value=0, max_value=300_000), seed=st.integers(0, 2**32 - 1))
def test_transfer_random_sizes(pump_kind: str, sock_kind: str, size: int, seed: int) -> None:
    transfer(pump_kind, sock_kind, payload(size, seed))


@pytest.mark.parametrize("pump_kind", PUMP_KINDS)
def test_empty_stream_is_eof_at_once(pump_kind: str, pool: PipePool, bufs: BufferPool) -> None:
    rig = Rig("unix")
    rig.producer.shutdown(socket.SHUT_WR)
    pump = make_pump(pump_kind, rig.src.fileno(), rig.dst.fileno(), pool, bufs)
    assert pump.run() == (0, Stop.EOF)
    assert (pump.pending, pump.moved, pump.errno) == (0, 0, 0)
    pump.close()
    rig.close()


# --- the stop reasons -----------------------------------------------------------------------


@pytest.mark.parametrize("sock_kind", SOCK_KINDS)
@pytest.mark.parametrize("pump_kind", PUMP_KINDS)
def test_src_again_on_empty_source_holds_nothing(
    pump_kind: str, sock_kind: str, pool: PipePool, bufs: BufferPool
) -> None:
    rig = Rig(sock_kind)
    pump = make_pump(pump_kind, rig.src.fileno(), rig.dst.fileno(), pool, bufs)
    assert pump.run() == (0, Stop.SRC_AGAIN)
    assert pump.pending == 0 and pump.moved == 0
    assert held(pump_kind, pool, bufs) == 0
    if pump_kind != "copy":
        assert pool.idle == 1  # the pipe went back to the pool, not closed
    # data arrives: the pump delivers it and again holds nothing
    rig.producer.sendall(b"hello")
    wait_fd(rig.src.fileno(), select.POLLIN)
    assert pump.run() == (5, Stop.SRC_AGAIN)
    assert rig.consumer.recv(16) == b"hello"
    assert held(pump_kind, pool, bufs) == 0
    pump.close()
    rig.close()


@pytest.mark.parametrize("sock_kind", SOCK_KINDS)
@pytest.mark.parametrize("pump_kind", PUMP_KINDS)
def test_dst_again_holds_bytes_then_progresses(
    pump_kind: str, sock_kind: str, pool: PipePool, bufs: BufferPool
) -> None:
    data = payload(4 << 20, seed=7)
    rig = Rig(sock_kind, small_dst=True)
    pump = make_pump(pump_kind, rig.src.fileno(), rig.dst.fileno(), pool, bufs)
    rig.send_in_background(data)  # and EOF: must not be reported while bytes are held
    deadline = time.monotonic() + 10
    while True:  # nobody reads the consumer: the pump must end up stuck on dst
        n, stop = pump.run()
        if stop is Stop.DST_AGAIN:
            break
        assert stop is Stop.SRC_AGAIN, stop
        assert time.monotonic() < deadline
        wait_fd(rig.src.fileno(), select.POLLIN)
    assert pump.pending > 0
    assert held(pump_kind, pool, bufs) == 1  # the pipe/buffer stays with its bytes
    stuck_moved, stuck_pending = pump.moved, pump.pending
    assert stuck_moved < len(data)
    # still nobody reading: no progress, same bytes held, still DST_AGAIN
    assert pump.run() == (0, Stop.DST_AGAIN)
    assert (pump.moved, pump.pending) == (stuck_moved, stuck_pending)
    # the reader drains: the destination becomes writable and the pump moves on
    rig.receive_in_background()
    wait_fd(rig.dst.fileno(), select.POLLOUT)
    n, stop = pump.run()
    assert n > 0 and pump.moved == stuck_moved + n
    assert stop is not Stop.EOF or pump.moved == len(data)
    if stop is not Stop.EOF:
        drive(pump, rig)
    assert pump.moved == len(data)
    rig.dst.shutdown(socket.SHUT_WR)
    rig.join()
    assert rig.received.digest() == hashlib.sha256(data).digest()
    assert held(pump_kind, pool, bufs) == 0
    pump.close()
    rig.close()


@pytest.mark.parametrize("pump_kind", PUMP_KINDS)
def test_budget_honoured(pump_kind: str, bufs: BufferPool) -> None:
    budget = chunk = 64 << 10
    pool = PipePool(size=chunk)
    bufs = BufferPool(bufsize=chunk)
    rig = Rig("tcp")
    # preload the source so that the pump never runs dry before its budget
    rig.producer.setblocking(False)
    data = payload(4 << 20, seed=3)
    preloaded = 0
    try:
        while preloaded < len(data):
            preloaded += rig.producer.send(data[preloaded : preloaded + 65536])
    except BlockingIOError:
        pass
    assert preloaded >= 4 * budget, "loopback TCP buffers unexpectedly small"
    data = data[:preloaded]
    rig.receive_in_background()
    pump = make_pump(pump_kind, rig.src.fileno(), rig.dst.fileno(), pool, bufs, budget=budget)
    assert pool.pipe_size in (0, chunk)
    budget_stops = 0
    deadline = time.monotonic() + 30
    while pump.moved < preloaded:
        assert time.monotonic() < deadline
        n, stop = pump.run()
        if stop is Stop.BUDGET:
            budget_stops += 1
            # stopped at the first full drain at or past the budget, holding nothing
            assert budget <= n < budget + chunk
            assert pump.pending == 0
            assert held(pump_kind, pool, bufs) == 0
        elif stop is Stop.DST_AGAIN:
            wait_fd(rig.dst.fileno(), select.POLLOUT)
        elif stop is Stop.SRC_AGAIN and pump.moved < preloaded:
            wait_fd(rig.src.fileno(), select.POLLIN)
        elif stop is not Stop.SRC_AGAIN:
            raise AssertionError(stop)
    assert budget_stops >= 1
    assert pump.run() == (0, Stop.SRC_AGAIN)
    rig.dst.shutdown(socket.SHUT_WR)
    rig.join()
    assert rig.received.digest() == hashlib.sha256(data).digest()
    pump.close()
    rig.close()
    pool.close()


@pytest.mark.parametrize("pump_kind", PUMP_KINDS)
def test_dst_error_epipe_when_peer_closed(pump_kind: str, pool: PipePool, bufs: BufferPool) -> None:
    rig = Rig("unix")
    rig.consumer.close()
    rig.producer.sendall(b"x" * 100_000)
    pump = make_pump(pump_kind, rig.src.fileno(), rig.dst.fileno(), pool, bufs)
    n, stop = pump.run()
    assert (n, stop) == (0, Stop.DST_ERROR)
    assert pump.errno == errno.EPIPE
    assert pump.pending == 100_000  # the bytes read are still held, not lost from the count
    assert held(pump_kind, pool, bufs) == 1
    idle_before = pool.idle
    pump.close()
    assert held(pump_kind, pool, bufs) == 0
    if pump_kind != "copy":
        assert pool.idle == idle_before  # a pipe with bytes in it is closed, never reused
    pump.close()  # idempotent
    assert held(pump_kind, pool, bufs) == 0
    rig.producer.close()
    rig.src.close()
    rig.dst.close()


@pytest.mark.parametrize("pump_kind", PUMP_KINDS)
def test_dst_error_tcp_reset_or_epipe(pump_kind: str, pool: PipePool, bufs: BufferPool) -> None:
    rig = Rig("tcp")
    rig.consumer.close()  # FIN; the next segment we send is answered with RST
    pump = make_pump(pump_kind, rig.src.fileno(), rig.dst.fileno(), pool, bufs)
    deadline = time.monotonic() + 10
    while True:
        rig.producer.sendall(b"y" * 10_000)
        wait_fd(rig.src.fileno(), select.POLLIN)
        _, stop = pump.run()
        if stop is Stop.DST_ERROR:
            break
        assert stop is Stop.SRC_AGAIN, stop
        assert time.monotonic() < deadline
        time.sleep(0.01)  # let the RST arrive
    assert pump.errno in (errno.EPIPE, errno.ECONNRESET)
    pump.close()
    assert held(pump_kind, pool, bufs) == 0
    for s in (rig.producer, rig.src, rig.dst):
        s.close()


@pytest.mark.parametrize("pump_kind", PUMP_KINDS)
def test_src_error_on_reset(pump_kind: str, pool: PipePool, bufs: BufferPool) -> None:
    rig = Rig("tcp")
    # SO_LINGER 0: close() sends RST instead of FIN
    rig.producer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    rig.producer.close()
    wait_fd(rig.src.fileno(), select.POLLIN)
    pump = make_pump(pump_kind, rig.src.fileno(), rig.dst.fileno(), pool, bufs)
    assert pump.run() == (0, Stop.SRC_ERROR)
    assert pump.errno == errno.ECONNRESET
    assert pump.pending == 0 and held(pump_kind, pool, bufs) == 0
    pump.close()
    for s in (rig.src, rig.dst, rig.consumer):
        s.close()


def test_budget_must_be_positive(pool: PipePool) -> None:
    with pytest.raises(ValueError):
        SplicePump(0, 1, pool, budget=0)
    with pytest.raises(ValueError):
        CopyPump(0, 1, budget=-1)


# --- pipes are held only while bytes are -----------------------------------------------------


@pytest.mark.parametrize("pump_kind", ["splice-native", "splice-python"])
def test_idle_pumps_hold_no_pipes(pump_kind: str, pool: PipePool, bufs: BufferPool) -> None:
    rigs = [Rig("unix") for _ in range(200)]
    pumps = [make_pump(pump_kind, r.src.fileno(), r.dst.fileno(), pool, bufs) for r in rigs]
    for rig in rigs:
        rig.producer.sendall(b"ping")
    for pump in pumps:
        assert pump.run() == (4, Stop.SRC_AGAIN)
    # 200 connections that each moved bytes, and only one pipe was ever made
    assert pool.in_use == 0 and pool.idle == 1
    for pump, rig in zip(pumps, rigs, strict=True):
        assert rig.consumer.recv(8) == b"ping"
        pump.close()
        rig.close()
    assert pool.in_use == 0


def test_native_and_python_share_one_pool(pool: PipePool, bufs: BufferPool) -> None:
    """Both implementations return pipes in the same state: interchangeable mid-stream."""
    rig = Rig("unix")
    a = make_pump("splice-native", rig.src.fileno(), rig.dst.fileno(), pool, bufs)
    b = make_pump("splice-python", rig.src.fileno(), rig.dst.fileno(), pool, bufs)
    rig.producer.sendall(b"a" * 1000)
    assert a.run() == (1000, Stop.SRC_AGAIN)
    rig.producer.sendall(b"b" * 1000)
    assert b.run() == (1000, Stop.SRC_AGAIN)
    got = b""
    while len(got) < 2000:
        got += rig.consumer.recv(4096)
    assert got == b"a" * 1000 + b"b" * 1000
    assert (pool.in_use, pool.idle) == (0, 1)
    a.close()
    b.close()
    rig.close()


# --- implementation selection ---------------------------------------------------------------


def test_native_constants_match_stop() -> None:
    from lb._native._lb_native import lib  # must exist: this FAILS when the build is missing

    for stop in Stop:
        assert getattr(lib, f"LB_{stop.name}") == stop.value


def test_native_selection(pool: PipePool) -> None:
    assert type(SplicePump(0, 1, pool, native=True)).native is True
    assert type(SplicePump(0, 1, pool, native=False)).native is False
    assert isinstance(SplicePump(0, 1, pool, native=False), SplicePump)


@pytest.mark.parametrize(("env", "expect"), [("0", "False python"), ("1", "True native")])
def test_lb_native_env(env: str, expect: str) -> None:
    code = (
        "import lb._native as n\n"
        "p = n.SplicePump(0, 1, n.PipePool())\n"
        "print(n.HAVE_NATIVE, 'native' if p.native else 'python')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "LB_NATIVE": env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()
    assert out == expect
