"""µs per pick of each balancing algorithm with 10, 100 and 1,000 servers.

    .venv/bin/python bench/balance_pick.py [--repeat 3] [--sizes 10 100 1000]

Each cell is the best of ``--repeat`` (default 3) timeit runs (each sized by
``autorange``: at least 0.2 s), divided by the picks in the run. Servers have
weight 1 (HAProxy's default) and random current connections; for ``first``
90 % of the servers are full, so the scan is the cost being measured. The
hashing algorithms hash one realistic key each time (hashing is part of the
pick). Prints a markdown table on stdout.
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


def per_pick_us(pick: Callable[[], object], repeat: int) -> float:
    timer = timeit.Timer(pick)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
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

    header = ["algorithm", *(f"{n} servers" for n in options.sizes)]
    print(
        f"µs per pick, best of {options.repeat} (Python {platform.python_version()}, "
        f"{platform.machine()}, {platform.processor() or platform.system()})\n"
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(["---", *["---:"] * len(options.sizes)]) + "|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
