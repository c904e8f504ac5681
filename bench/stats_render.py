#!/usr/bin/env python3
"""How long a worker takes to answer /metrics, the stats page and ;csv with many servers.

    .venv/bin/python bench/stats_render.py [--servers 1000] [--workers 4] [--rounds 20]

A configuration of ``--servers`` servers (100 per backend) is registered in a real shared
region the way the master does it; ``--workers`` slabs are filled as busy workers would
leave them, the master's ring gets a minute of entries. Timed, per answer: reading the
snapshot from shared memory (``SnapshotSource.take``) and rendering it — what a worker
does between a request for /metrics and its response. The master publishes the summed
records before every round (outside the timing, as its own process does twice a second);
the "live sum" line is what the master's ``show stat`` pays, and a worker when that
aggregate is older than a second.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lb.config import load_files  # noqa: E402
from lb.stats.counters import WorkerStats  # noqa: E402
from lb.stats.http import handle_prometheus_request, handle_stats_request  # noqa: E402
from lb.stats.master import StatsMaster, geometry_for  # noqa: E402
from lb.stats.objects import ids_from_boot  # noqa: E402
from lb.stats.shm import GaugeNames, GaugeTable, SharedRegion  # noqa: E402
from lb.stats.source import SnapshotSource  # noqa: E402


def config_text(servers: int) -> str:
    lines = [
        "global",
        "    maxconn 10000",
        "defaults",
        "    mode http",
        "    timeout connect 5s",
        "    timeout client 5s",
        "    timeout server 5s",
        "frontend web",
        "    bind 127.0.0.1:18080",
        "    default_backend be0",
        "    stats enable",
        "    stats uri /stats",
    ]
    for b in range(max(1, servers // 100)):
        lines.append(f"backend be{b}")
        for s in range(min(100, servers - b * 100)):
            lines.append(f"    server s{s} 127.0.0.{1 + s % 200}:{20000 + b} weight {1 + s % 5}")
    return "\n".join(lines) + "\n"


def build(
    servers: int, workers: int
) -> tuple[SharedRegion, StatsMaster, SnapshotSource, SnapshotSource]:
    """The region, the master, a worker's source (reads the aggregate) and the master's
    (sums the slabs)."""
    path = Path(tempfile.mkdtemp()) / "lb.cfg"
    path.write_text(config_text(servers))
    loaded = load_files([str(path)])
    assert loaded.ok and loaded.config is not None, [str(d) for d in loaded.diagnostics]
    config = loaded.config
    region = SharedRegion.create(65536, geometry_for(config, workers))
    gauges = GaugeTable(region.capacity)
    master = StatsMaster(region, gauges)
    for proxy in config.proxies:
        if proxy.has_frontend:
            gauges.slot(GaugeNames.frontend_cur_conns(proxy.name))
        for server in proxy.servers:
            gauges.slot(GaugeNames.server_cur_conns(proxy.name, server.name))
    gauges.slot(GaugeNames.GLOBAL_CUR_CONNS)
    gauges.slot(GaugeNames.GLOBAL_CUM_CONNS)
    ids: dict[str, int] = {}
    for slot in range(workers):
        entries = master.boot_entries(config, slot, 1)
        master.worker_started(1000 + slot, entries)
        ids, slab = ids_from_boot(entries)
        stats = WorkerStats(region.stats, slab, ids)
        for proxy in config.proxies:
            for i, server in enumerate(proxy.servers):
                c = stats.server(proxy.name, server.name)
                c.stot = c.req_tot = 1000 + i
                c.http_rsp[2] = 990 + i
                c.bin, c.bout = 10**6, 10**8
                for k in range(50):
                    c.observe(0.0, 0.0002, 0.001 * (1 + k % 7), 0.002 * (1 + k % 9))
        stats.flush(time.monotonic(), {})
    for second in range(60):
        master.tick(time.time() + second)
    worker = SnapshotSource(region, config, ids, gauges.slots.get, 10000)
    return region, master, worker, master.source(config, 10000)


def timed(fn: Callable[[], object], rounds: int, between: Callable[[], object]) -> list[float]:
    out = []
    for _ in range(rounds):
        between()
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    region, master, source, live = build(args.servers, args.workers)
    settings = next(p for p in source.config.proxies if p.stats is not None).stats
    cases: dict[str, Callable[[], object]] = {
        "snapshot, live sum (master)": live.take,
        "snapshot (read shared memory)": source.take,
        "/metrics (snapshot + render)": lambda: handle_prometheus_request(
            b"GET", b"/metrics", source
        ),
        "stats page HTML": lambda: handle_stats_request(settings, b"GET", b"/stats", [], source),
        ";csv": lambda: handle_stats_request(settings, b"GET", b"/stats;csv", [], source),
    }
    print(f"{args.servers} servers, {args.workers} worker slabs, {args.rounds} rounds")
    for name, fn in cases.items():
        master.publish_aggregate()
        fn()  # warm
        ms = timed(fn, args.rounds, master.publish_aggregate)
        print(
            f"{name:32} median {statistics.median(ms):7.1f} ms   "
            f"min {min(ms):7.1f}   max {max(ms):7.1f}"
        )
    region.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
