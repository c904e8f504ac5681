"""``lb-bench tcp``: bulk streams across a few processes, merged into one figure."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lb.bench.errors import EXIT_UNREACHABLE, BenchError
from lb.bench.httprun import preflight, split
from lb.bench.pool import Pool
from lb.bench.tcpload import TcpCounts, TcpJob


@dataclass
class TcpSpec:
    host: str
    port: int
    streams: int = 4
    duration: float = 10.0
    direction: str = "up"
    processes: int | None = None  # default: one per stream, at most one per CPU
    timeout: float = 5.0


@dataclass
class TcpResult:
    spec: TcpSpec
    counts: TcpCounts
    processes: int

    @property
    def gbit_s(self) -> float:
        c = self.counts
        return c.bytes * 8 / 1e9 / c.elapsed if c.elapsed else 0.0

    @property
    def errors(self) -> int:
        return sum(self.counts.errors.values())

    @property
    def cpu_s_per_gb(self) -> float:
        c = self.counts
        return c.cpu_s / (c.bytes / 1e9) if c.bytes else 0.0

    def summary(self) -> dict[str, Any]:
        c = self.counts
        return {
            "bytes": c.bytes,
            "sent": c.sent,
            "seconds": c.elapsed,
            "gbit_s": self.gbit_s,
            "streams": self.spec.streams,
            "streams_ok": c.streams,
            "errors": dict(sorted(c.errors.items())),
            "direction": self.spec.direction,
            "client_cpu_s": c.cpu_s,
            "client_cpu_s_per_gb": self.cpu_s_per_gb,
            "processes": self.processes,
        }


def parse_hostport(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT``."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not HOST:PORT: {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def run_tcp(
    spec: TcpSpec,
    on_start: Callable[[], None] | None = None,
    on_finish: Callable[[], None] | None = None,
) -> TcpResult:
    preflight(spec.host, spec.port, spec.timeout)
    procs = spec.processes or min(spec.streams, os.cpu_count() or 1)
    procs = max(1, min(procs, spec.streams))
    jobs = [
        TcpJob(spec.host, spec.port, n, spec.duration, spec.direction, spec.timeout)
        for n in split(spec.streams, procs)
    ]
    with Pool("tcp", [j.to_json() for j in jobs]) as pool:
        ready = pool.collect("ready", spec.timeout * spec.streams + 30)
        if sum(r["ready"] for r in ready) == 0:
            kinds = sorted({k for r in ready for k in r["errors"]})
            raise BenchError(
                f"no stream to {spec.host}:{spec.port} could be opened ({', '.join(kinds)})",
                EXIT_UNREACHABLE,
            )
        if on_start is not None:
            on_start()
        pool.send("go")
        results = pool.collect("result", spec.duration + spec.timeout * 2 + 30)
        if on_finish is not None:
            on_finish()
    total = TcpCounts()
    for r in results:
        total.merge(TcpCounts.from_json(r["result"]))
    return TcpResult(spec, total, len(jobs))
