"""``lb-bench http``'s engine room: split the work across processes, run them, merge."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lb.bench.errors import EXIT_UNREACHABLE, BenchError
from lb.bench.hist import Histogram
from lb.bench.httpload import HttpCounts, HttpJob
from lb.bench.httpwire import Target, build_requests
from lb.bench.pool import Pool

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


@dataclass
class HttpSpec:
    """What the user asked of ``lb-bench http``."""

    urls: list[str]
    connections: int = 10
    duration: float | None = 10.0
    count: int | None = None
    close: bool = False
    pipeline: int = 1
    processes: int = 1
    rate: float | None = None
    timeout: float = 5.0
    method: str = "GET"
    headers: list[str] = field(default_factory=list)


@dataclass
class HttpResult:
    spec: HttpSpec
    counts: HttpCounts
    processes: int

    @property
    def requests_per_s(self) -> float:
        return self.counts.responses / self.counts.elapsed if self.counts.elapsed else 0.0

    @property
    def errors(self) -> int:
        return sum(self.counts.errors.values())

    @property
    def cpu_us_per_request(self) -> float:
        n = self.counts.responses
        return self.counts.cpu_s / n * 1e6 if n else 0.0

    def latency_s(self) -> dict[str, float]:
        h = self.counts.hist
        out = {f"p{q:g}": h.percentile(q) / 1e9 for q in PERCENTILES}
        out["max"] = h.max / 1e9
        out["mean"] = h.mean() / 1e9
        return out

    def summary(self) -> dict[str, Any]:
        c = self.counts
        return {
            "requests": c.responses,
            "seconds": c.elapsed,
            "requests_per_s": self.requests_per_s,
            "latency_s": self.latency_s(),
            "statuses": {str(k): v for k, v in sorted(c.statuses.items())},
            "errors": dict(sorted(c.errors.items())),
            "body_bytes": c.body_bytes,
            "body_min": max(c.body_min, 0),
            "body_max": c.body_max,
            "connects": c.connects,
            "unfinished": c.unfinished,
            "client_cpu_s": c.cpu_s,
            "client_cpu_us_per_request": self.cpu_us_per_request,
            "processes": self.processes,
            "target_rate": self.spec.rate,
        }


def split(total: int, parts: int) -> list[int]:
    """total as parts near-equal integers (the first ones larger), zeros dropped."""
    base, extra = divmod(total, parts)
    return [n for n in (base + (i < extra) for i in range(parts)) if n]


def jobs_for(spec: HttpSpec, target: Target, hold: bool = False) -> list[HttpJob]:
    reqs = build_requests(target, method=spec.method, close=spec.close, headers=spec.headers)
    procs = max(1, min(spec.processes, spec.connections))
    conns = split(spec.connections, procs)
    counts: list[int | None] = (
        list(split(spec.count, procs)) if spec.count is not None else [None] * len(conns)
    )
    if spec.count is not None and len(counts) < len(conns):  # fewer requests than processes
        conns = conns[: len(counts)]
    return [
        HttpJob(
            host=target.host,
            port=target.port,
            requests=reqs,
            connections=c,
            close=spec.close,
            pipeline=spec.pipeline,
            count=n,
            duration=spec.duration if spec.count is None else None,
            rate=spec.rate * c / spec.connections if spec.rate else None,
            timeout=spec.timeout,
            head_only=spec.method.upper() == "HEAD",
            hold=hold,
        )
        for c, n in zip(conns, counts, strict=True)
    ]


def preflight(host: str, port: int, timeout: float) -> None:
    """Fail early, with the reason, when nothing accepts connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except socket.gaierror as e:
        raise BenchError(f"cannot resolve {host}: {e.strerror}", EXIT_UNREACHABLE) from None
    except ConnectionRefusedError:
        raise BenchError(
            f"cannot connect to {host}:{port}: connection refused", EXIT_UNREACHABLE
        ) from None
    except TimeoutError:
        raise BenchError(
            f"cannot connect to {host}:{port}: no answer within {timeout:g}s", EXIT_UNREACHABLE
        ) from None
    except OSError as e:
        raise BenchError(
            f"cannot connect to {host}:{port}: {e.strerror or e}", EXIT_UNREACHABLE
        ) from None


def run_http(
    spec: HttpSpec,
    on_progress: Callable[[int, int], None] | None = None,
    on_start: Callable[[], None] | None = None,
    on_finish: Callable[[], None] | None = None,
) -> HttpResult:
    """Run the load; on_progress(responses, errors) about once a second across processes.
    on_start runs just before the clock starts (connections are open by then), on_finish as
    soon as the last process has reported: between them lies what the figures cover."""
    try:
        target = Target.from_urls(spec.urls)
    except ValueError as e:
        raise BenchError(str(e), 2) from None
    preflight(target.host, target.port, spec.timeout)
    jobs = jobs_for(spec, target)
    seen: dict[int, tuple[int, int]] = {}

    def message(i: int, msg: dict[str, Any]) -> None:
        if "progress" in msg and on_progress is not None:
            seen[i] = (msg["progress"], msg["errors"])
            on_progress(sum(r for r, _ in seen.values()), sum(e for _, e in seen.values()))

    with Pool("http", [j.to_json() for j in jobs], progress=on_progress is not None) as pool:
        ready = pool.collect("ready", spec.timeout + 30 + spec.connections / 100)
        if not spec.close and sum(r["ready"] for r in ready) == 0:
            kinds = sorted({k for r in ready for k in r["errors"]})
            raise BenchError(
                f"no connection to {target.host}:{target.port} could be opened "
                f"({', '.join(kinds) or 'no reason given'})",
                EXIT_UNREACHABLE,
            )
        if on_start is not None:
            on_start()
        pool.send("go")
        limit = None if spec.duration is None else spec.duration + spec.timeout + 30
        results = pool.collect("result", limit if spec.count is None else None, message)
        if on_finish is not None:
            on_finish()
    total = HttpCounts()
    for r in results:
        total.merge(HttpCounts.from_json(r["result"]))
    return HttpResult(spec, total, len(jobs))


def merged_histogram(results: list[HttpResult]) -> Histogram:
    h = Histogram()
    for r in results:
        h.merge(r.counts.hist)
    return h
