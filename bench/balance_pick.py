"""µs per pick of each balancing algorithm with 10, 100 and 1,000 servers.

    .venv/bin/python bench/balance_pick.py [--repeat 3] [--sizes 10 100 1000] [--no-worker]

Each cell is the best of ``--repeat`` (default 3) timeit runs (each sized by
``autorange``: at least 0.2 s), divided by the picks in the run. Servers have
weight 1 (HAProxy's default) and random current connections; for ``first``
90 % of the servers are full, so the scan is the cost being measured. The
hashing algorithms hash one realistic key each time (hashing is part of the
pick). Prints a markdown table on stdout.

A second table measures what a worker pays: ``Backend.pick`` and ``release``
(lb/worker/backends.py) over a real shared-memory region, with a server state
table the way the master publishes it. That adds the state version load per
pick, the daemon-wide slot (an atomic try-acquire and release) and, for
roundrobin and static-rr, the shared position counter; leastconn, first and
random read every server's daemon-wide connection count they look at.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lb.balance import PickKey, ServerView, make_balancer
from lb.config.model import Proxy, Server, Source
from lb.stats.server_state import ServerState, ServerStateTable, state_slots, version_index
from lb.stats.shm import GaugeNames, GaugeTable, SharedRegion
from lb.worker.backends import Backend, ServerTarget

KEY = PickKey(
    source=bytes([192, 0, 2, 77]),
    uri="/static/img/products/12345/large.jpg?v=3&userid=alice",
    header=b"www.example.com",
    destination=bytes([198, 51, 100, 10]),
)

# (label, algorithm, args, hash-type)
CASES: list[tuple[str, str, list[str], list[str]]] = [
    ("roundrobin", "roundrobin", [], []),
    ("static-rr", "static-rr", [], []),
    ("leastconn", "leastconn", [], []),
    ("first", "first", [], []),
    ("random (2 draws)", "random", [], []),
    ("random(5)", "random(5)", [], []),
    ("source map-based sdbm", "source", [], []),
    ("source consistent (sdbm+avalanche)", "source", [], ["consistent"]),
    ("source consistent crc32", "source", [], ["consistent", "crc32"]),
    ("uri map-based sdbm", "uri", [], []),
    ("uri consistent (sdbm+avalanche)", "uri", [], ["consistent"]),
    ("uri consistent crc32", "uri", [], ["consistent", "crc32"]),
    ("uri consistent wt6", "uri", [], ["consistent", "wt6"]),
    ("uri consistent djb2", "uri", [], ["consistent", "djb2"]),
    ("url_param consistent", "url_param", ["userid"], ["consistent"]),
    ("hdr(Host) consistent", "hdr(Host)", [], ["consistent"]),
    ("url_param, no param (rr fallback)", "url_param", ["sid"], ["consistent"]),
    ("lvs:sed", "lvs:sed", [], []),
    ("lvs:nq", "lvs:nq", [], []),
    ("lvs:sh", "lvs:sh", [], []),
    ("lvs:lblc", "lvs:lblc", [], []),
]


def farm(size: int, algorithm: str) -> list[ServerView]:
    rng = random.Random(size)
    pool = [
        ServerView(index=i, name=f"srv{i}", weight=1, cur_conns=rng.randrange(0, 50))
        for i in range(size)
    ]
    if algorithm == "first":
        for i, server in enumerate(pool):
            server.maxconn = 50
            server.cur_conns = 50 if i < size * 9 // 10 else 0
    return pool


# (label, balance line, hash-type): the algorithms at the worker's level
WORKER_CASES: list[tuple[str, str, list[str]]] = [
    ("roundrobin", "roundrobin", []),
    ("static-rr", "static-rr", []),
    ("leastconn", "leastconn", []),
    ("first", "first", []),
    ("random (2 draws)", "random", []),
    ("source consistent", "source", ["consistent"]),
    ("uri consistent", "uri", ["consistent"]),
    ("hdr(Host) map-based", "hdr(Host)", []),
]


def worker_backend(size: int, balance: str, hash_type: list[str]) -> tuple[Backend, SharedRegion]:
    """A Backend as a worker builds it, over a fresh region the master has written."""
    region = SharedRegion.create(capacity=8 * size + 64)
    gauges = GaugeTable(region.capacity)
    src = Source("bench", 1)
    servers = [
        Server(name=f"srv{i}", host="127.0.0.1", port=1, source=src, maxconn=1_000_000)
        for i in range(size)
    ]
    proxy = Proxy(name="be", kind="backend", source=src, servers=servers, balance=balance)
    proxy.hash_type = hash_type
    table = ServerStateTable(region.counters, version_index(region, gauges.slot))
    rng = random.Random(size)
    targets = []
    for i, server in enumerate(servers):
        slots = state_slots(region, gauges.slot, "be", server.name)
        table.store(slots, ServerState(), bump=False)
        cur = region.counter_index(gauges.slot(GaugeNames.server_cur_conns("be", server.name)))
        region.counters.store(cur, rng.randrange(0, 50))  # load held by "other workers"
        targets.append(
            ServerTarget(i, "be", server, 2, ("127.0.0.1", 1), cur, state_index=slots.state)
        )
    table.bump()
    position = region.counter_index(gauges.slot(GaugeNames.backend_rr_position("be")))
    backend = Backend(
        proxy,
        targets,
        region.counters,
        position,
        gauges=memoryview(region.mm).cast("q"),
        state_version_index=version_index(region, gauges.slot),
    )
    return backend, region


def worker_rows(sizes: list[int], repeat: int) -> list[list[str]]:
    rows = []
    for label, balance, hash_type in WORKER_CASES:
        cells = [label]
        for size in sizes:
            backend, _region = worker_backend(size, balance, hash_type)

            def pick(b: Backend = backend) -> None:
                target = b.pick(key=KEY)
                if target is not None:
                    b.release(target)

            cells.append(f"{per_pick_us(pick, repeat):.2f}")
        rows.append(cells)
        print(" | ".join(cells), file=sys.stderr, flush=True)
    return rows


def print_table(title: str, rows: list[list[str]], sizes: list[int]) -> None:
    header = ["algorithm", *(f"{n} servers" for n in sizes)]
    print(f"{title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---", *["---:"] * len(sizes)]) + "|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")


def per_pick_us(pick: Callable[[], object], repeat: int) -> float:
    timer = timeit.Timer(pick)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--no-worker", action="store_true", help="skip the worker-level table")
    options = parser.parse_args()

    rows: list[list[str]] = []
    for label, algorithm, args, hash_type in CASES:
        cells = [label]
        for size in options.sizes:
            balancer = make_balancer(algorithm, args, hash_type, farm(size, algorithm))
            key = KEY
            cells.append(f"{per_pick_us(lambda b=balancer, k=key: b.pick(k), options.repeat):.2f}")
        rows.append(cells)
        print(" | ".join(cells), file=sys.stderr, flush=True)  # progress

    machine = f"Python {platform.python_version()}, {platform.machine()}"
    machine += f", {platform.processor() or platform.system()}"
    print_table(f"µs per pick, best of {options.repeat} ({machine})", rows, options.sizes)
    if not options.no_worker:
        worker = worker_rows(options.sizes, options.repeat)
        print()
        print_table(
            f"µs per worker-level pick + release (Backend over shared memory), best of "
            f"{options.repeat} ({machine})",
            worker,
            options.sizes,
        )


if __name__ == "__main__":
    main()
