"""Backend servers for the integration tests, each run as its own process.

Run as a script (stdlib only, so it starts fast and needs no package on the path):

    python servers.py KIND --port 0 --name s1 --log events.jsonl [--size N --seed S]

It prints ``READY <port>`` on stdout once it listens, then serves until killed. Every
connection is logged as JSON lines to ``--log``: an ``open`` event (with ``cur``, the number
of connections open at that moment in this process) and a ``close`` event with the number
of bytes received and their sha256 — what the backend got, for the tests to assert on.

Kinds:
  echo       send back everything received; on the client's EOF, half-close and finish.
  sink       read to EOF, then answer ``<sha256 hex> <byte count>\\n`` and close.
  source     send ``--size`` bytes of the deterministic pattern for ``--seed``, then close
             (reading and recording whatever the client sends until its EOF).
  hello      send ``<name>\\n``, then echo like ``echo``.
  halfclose  send ``<name>\\n``, half-close (SHUT_WR), then read to EOF and record it.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import random
import socket
import sys
import threading
import time
from collections.abc import Iterator

# The pattern: a pseudo-random block whose period is not a power of two, so that a lost,
# duplicated or reordered chunk changes the digest.
PERIOD = (1 << 20) + 4099
KINDS = ("echo", "sink", "source", "hello", "halfclose")


@functools.cache
def _doubled_block(seed: int) -> bytes:
    block = random.Random(seed).randbytes(PERIOD)
    return block + block


def pattern_chunks(seed: int, size: int, chunk: int = 256 * 1024) -> Iterator[memoryview]:
    """The first size bytes of the pattern for seed, as views (no copies)."""
    view = memoryview(_doubled_block(seed))
    off = 0
    while off < size:
        n = min(chunk, size - off, PERIOD)
        start = off % PERIOD
        yield view[start : start + n]
        off += n


def pattern_digest(seed: int, size: int) -> str:
    h = hashlib.sha256()
    for c in pattern_chunks(seed, size, chunk=PERIOD):
        h.update(c)
    return h.hexdigest()


class Server:
    def __init__(self, kind: str, name: str, log_path: str, size: int, seed: int) -> None:
        self.kind = kind
        self.name = name
        self.size = size
        self.seed = seed
        self.lock = threading.Lock()
        self.cur = 0
        self.next_id = 0
        self.log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the process

    def event(self, **fields: object) -> None:
        fields["t"] = time.monotonic()
        fields["server"] = self.name
        line = json.dumps(fields)
        with self.lock:
            self.log.write(line + "\n")

    def handle(self, conn: socket.socket, peer: tuple[str, int]) -> None:
        with self.lock:
            self.cur += 1
            self.next_id += 1
            cid = self.next_id
            cur = self.cur
        self.event(ev="open", conn=cid, cur=cur, peer=f"{peer[0]}:{peer[1]}")
        h = hashlib.sha256()
        rx = 0
        error = ""
        try:
            rx = getattr(self, "serve_" + self.kind)(conn, h)
        except OSError as e:
            error = f"{type(e).__name__}: {e}"
        finally:
            conn.close()
            with self.lock:
                self.cur -= 1
                cur = self.cur
            self.event(ev="close", conn=cid, cur=cur, rx=rx, sha256=h.hexdigest(), error=error)

    @staticmethod
    def read_all(conn: socket.socket, h: hashlib._Hash, echo: bool) -> int:
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        rx = 0
        while True:
            n = conn.recv_into(buf)
            if n == 0:
                return rx
            rx += n
            h.update(view[:n])
            if echo:
                conn.sendall(view[:n])

    def serve_echo(self, conn: socket.socket, h: hashlib._Hash) -> int:
        rx = self.read_all(conn, h, echo=True)
        conn.shutdown(socket.SHUT_WR)
        return rx

    def serve_sink(self, conn: socket.socket, h: hashlib._Hash) -> int:
        rx = self.read_all(conn, h, echo=False)
        conn.sendall(f"{h.hexdigest()} {rx}\n".encode())
        conn.shutdown(socket.SHUT_WR)
        return rx

    def serve_source(self, conn: socket.socket, h: hashlib._Hash) -> int:
        for chunk in pattern_chunks(self.seed, self.size):
            conn.sendall(chunk)
        conn.shutdown(socket.SHUT_WR)
        return self.read_all(conn, h, echo=False)

    def serve_hello(self, conn: socket.socket, h: hashlib._Hash) -> int:
        conn.sendall(f"{self.name}\n".encode())
        return self.serve_echo(conn, h)

    def serve_halfclose(self, conn: socket.socket, h: hashlib._Hash) -> int:
        conn.sendall(f"{self.name}\n".encode())
        conn.shutdown(socket.SHUT_WR)
        return self.read_all(conn, h, echo=False)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=KINDS)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--name", default="srv")
    ap.add_argument("--log", default=os.devnull)
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    srv = Server(args.kind, args.name, args.log, args.size, args.seed)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET  # --host ::1: IPv6
    ls = socket.socket(family, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.host, args.port))
    ls.listen(1024)
    if args.kind == "source":
        _doubled_block(args.seed)  # build the pattern before announcing readiness
    sys.stdout.write(f"READY {ls.getsockname()[1]}\n")
    sys.stdout.flush()
    while True:
        conn, peer = ls.accept()
        threading.Thread(target=srv.handle, args=(conn, peer), daemon=True).start()


if __name__ == "__main__":
    main()
