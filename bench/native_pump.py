"""Micro benchmark of one lb._native pump direction over loopback TCP.

    sender ──TCP──► [src]  pump (this process, one thread)  [dst] ──TCP──► receiver

The sender (sendfile from a memfd) and the receiver (splice to /dev/null) are separate processes
and as cheap as Linux allows, so that what differs between runs is the pump: SplicePump with the C
extension, SplicePump in pure Python (os.splice), and CopyPump (readv/write through a buffer).
The pump is driven like the worker drives it: one run() per readiness event, poll() in between.

Prints throughput (Gbit/s) and CPU seconds per GB of the pumping thread (user+sys, from
CLOCK_THREAD_CPUTIME_ID), plus run() calls per GB.  On loopback much of the TCP receive work of a
socket runs in the context of the process that writes to its peer, so the pump's CPU includes the
receive path of the destination socket: compare variants with each other, not with NIC numbers.

    python bench/native_pump.py [--gb 4] [--variants splice-native,splice-python,copy]
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lb._native import CopyPump, PipePool, SplicePump, Stop  # noqa: E402

CHUNK = 1 << 20
SENDER_FILE = 64 << 20


def sender(port: int, total: int) -> None:
    """Push `total` bytes with sendfile from a memfd (no user-space copy), then close."""
    fd = os.memfd_create("bench-payload")
    os.write(fd, os.urandom(1 << 20) * (SENDER_FILE >> 20))
    with socket.create_connection(("127.0.0.1", port)) as s:
        left = total
        while left:
            off = (total - left) % SENDER_FILE
            left -= os.sendfile(s.fileno(), fd, off, min(left, SENDER_FILE - off))


def receiver(port: int) -> None:
    """Accept one connection and splice everything to /dev/null; print the byte count."""
    with socket.create_server(("127.0.0.1", port)) as lsn:
        print("ready", flush=True)
        conn, _ = lsn.accept()
    r, w = os.pipe()
    null = os.open(os.devnull, os.O_WRONLY)
    got = 0
    while True:
        n = os.splice(conn.fileno(), w, CHUNK)
        if not n:
            break
        got += n
        while n:
            n -= os.splice(r, null, n)
    print(got, flush=True)


def wait(fd: int, events: int) -> None:
    p = select.poll()
    p.register(fd, events)
    p.poll()


def pump_once(variant: str, total: int) -> dict[str, float]:
    me = [sys.executable, str(Path(__file__).resolve())]
    # receiver first: it listens, we connect to it (our dst)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        rport = probe.getsockname()[1]
    recv_proc = subprocess.Popen(
        [*me, "--role", "receiver", "--port", str(rport)], stdout=subprocess.PIPE, text=True
    )
    assert recv_proc.stdout is not None
    assert recv_proc.stdout.readline().strip() == "ready"
    dst = socket.create_connection(("127.0.0.1", rport))
    lsn = socket.create_server(("127.0.0.1", 0))
    send_proc = subprocess.Popen(
        [*me, "--role", "sender", "--port", str(lsn.getsockname()[1]), "--bytes", str(total)]
    )
    src, _ = lsn.accept()
    lsn.close()
    src.setblocking(False)
    dst.setblocking(False)

    pool = PipePool()
    if variant == "copy":
        pump: SplicePump | CopyPump = CopyPump(src.fileno(), dst.fileno())
    else:
        pump = SplicePump(src.fileno(), dst.fileno(), pool, native=variant == "splice-native")
    calls = 0
    cpu0 = time.thread_time()
    t0 = time.perf_counter()
    while True:
        calls += 1
        _, stop = pump.run()
        if stop is Stop.SRC_AGAIN:
            wait(src.fileno(), select.POLLIN)
        elif stop is Stop.DST_AGAIN:
            wait(dst.fileno(), select.POLLOUT)
        elif stop is Stop.EOF:
            break
        elif stop is not Stop.BUDGET:
            raise RuntimeError(f"{stop!r} errno {pump.errno}")
    wall = time.perf_counter() - t0
    cpu = time.thread_time() - cpu0
    moved = pump.moved
    pump.close()
    dst.shutdown(socket.SHUT_WR)
    send_proc.wait()
    received = int(recv_proc.communicate()[0])
    src.close()
    dst.close()
    pool.close()
    assert moved == received == total, (moved, received, total)
    gb = total / 1e9
    return {
        "gbit_s": total * 8 / wall / 1e9,
        "cpu_s_per_gb": cpu / gb,
        "calls_per_gb": calls / gb,
        "wall_s": wall,
        "pipe_size": pool.pipe_size,
    }


def small_messages(variant: str, count: int, size: int = 4096) -> float:
    """Per-event cost: µs of CPU for one cycle of send(size) -> run() -> recv, in one thread.

    The bulk test amortises a run() over megabytes; interactive traffic (one small message per
    readiness event) is where the Python-level overhead of a pump call shows.
    """
    producer, src = socket.socketpair()
    dst, consumer = socket.socketpair()
    src.setblocking(False)
    dst.setblocking(False)
    pool = PipePool()
    if variant == "copy":
        pump: SplicePump | CopyPump = CopyPump(src.fileno(), dst.fileno())
    else:
        pump = SplicePump(src.fileno(), dst.fileno(), pool, native=variant == "splice-native")
    msg = os.urandom(size)
    buf = bytearray(size)
    send, run, recv_into = producer.send, pump.run, consumer.recv_into
    cpu0 = time.thread_time()
    for _ in range(count):
        send(msg)
        run()
        recv_into(buf)
    cpu = time.thread_time() - cpu0
    assert pump.moved == count * size
    pump.close()
    pool.close()
    for s in (producer, src, dst, consumer):
        s.close()
    return cpu / count * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--role", choices=["bench", "sender", "receiver"], default="bench")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bytes", type=int, default=0)
    ap.add_argument("--gb", type=float, default=4.0, help="GB (1e9 bytes) per variant")
    ap.add_argument("--variants", default="splice-native,splice-python,copy")
    ap.add_argument("--small", type=int, default=200_000, help="4 KiB message cycles per variant")
    args = ap.parse_args()
    if args.role == "sender":
        sender(args.port, args.bytes)
        return
    if args.role == "receiver":
        receiver(args.port)
        return
    total = int(args.gb * 1e9)
    print(f"{total / 1e9:.1f} GB per variant over loopback TCP, {os.cpu_count()} CPUs")
    print(f"{'variant':<15}{'Gbit/s':>9}{'CPU s/GB':>11}{'run()/GB':>11}{'wall s':>9}")
    for variant in args.variants.split(","):
        r = pump_once(variant, total)
        print(
            f"{variant:<15}{r['gbit_s']:>9.2f}{r['cpu_s_per_gb']:>11.3f}{r['calls_per_gb']:>11.0f}{r['wall_s']:>9.2f}"
        )

    if args.small:
        print(f"\n{args.small} cycles of send(4 KiB) -> run() -> recv over unix socketpairs")
        print(f"{'variant':<15}{'CPU µs/cycle':>13}")
        for variant in args.variants.split(","):
            print(f"{variant:<15}{small_messages(variant, args.small):>13.2f}")


if __name__ == "__main__":
    main()
