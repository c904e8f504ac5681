#!/usr/bin/env python3
"""HTTP response compression throughput: MB/s of response bytes compressed per core of the
proxy, lb (1 worker) against HAProxy (``nbthread 1``), and the compressor alone.

    .venv/bin/python bench/compression.py [--rounds 3] [--duration 8] [--connections 8]
                                          [--size 100k] [--only lb-gzip --only haproxy-gzip …]

wrk (1 thread, ``Accept-Encoding`` set per target) → proxy → nginx serving one text file of
``--size`` bytes (log-like lines: compresses about 4:1 at zlib level 1, as HTML/JSON do).
Targets:

- ``lb-gzip``, ``lb-br``: ``python -m lb -n 1``, ``compression algo gzip`` (or ``br``);
- ``haproxy-gzip``: Debian's haproxy 2.6 ``-db``, ``nbthread 1``, same configuration
  (its gzip is libslz, HAProxy's default build: level 1 only);
- ``lb-identity``, ``haproxy-identity``: the same proxies, the client sending no
  Accept-Encoding: what relaying the same bytes costs without compressing them.

The proxy's CPU is utime+stime from /proc of all its processes (master and worker) before
and after each run; **MB/s per core** = response bytes the proxy took from the server
(requests x size) / the proxy's CPU seconds. The floor (``floor-gzip``, ``floor-br``) is the
compressor alone in this process: lb's ``Compressor`` fed 64 kB pieces with a flush after
each (what the session does per server read), timed with ``process_time``.
Output: a table on stdout, JSON and a markdown block under bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import http_small  # noqa: E402  (the nginx backend, shared)

from lb.bench import proxies  # noqa: E402
from lb.bench.procs import CLOCK_TICKS, Target, cpu_ticks  # noqa: E402
from lb.bench.proxies import free_port  # noqa: E402
from lb.worker.http.compression import Compressor  # noqa: E402

HAPROXY, WRK = http_small.HAPROXY, http_small.WRK
TARGETS = ("lb-gzip", "haproxy-gzip", "lb-br", "lb-identity", "haproxy-identity")
FLOORS = ("floor-gzip", "floor-br")
MB = 1_000_000


def text_body(size: int) -> bytes:
    """Log-like text: timestamps, paths, numbers (deterministic)."""
    rnd = random.Random(42)
    words = ["GET", "POST", "/api/v1/users", "/static/app.js", "/index.html", "ok", "error"]
    out = bytearray()
    i = 0
    while len(out) < size:
        out += (
            f"2026-11-21T10:{i % 60:02d}:{rnd.randrange(60):02d}Z {rnd.choice(words)} "
            f"{rnd.choice(words)} status={rnd.choice((200, 200, 200, 304, 404))} "
            f"bytes={rnd.randrange(100000)} user={rnd.randrange(1000)}\n"
        ).encode()
        i += 1
    return bytes(out[:size])


def start_backend(workdir: Path, body: bytes) -> Target:
    """nginx serving ``body`` as /body.txt (text/plain, no ETag)."""
    www = workdir / "www"
    www.mkdir(parents=True, exist_ok=True)
    (www / "body.txt").write_bytes(body)
    os.chmod(workdir, 0o755)
    port = free_port()
    server = f"""    types {{ text/plain txt; }}
    server {{ listen 127.0.0.1:{port}; root {www}; etag off; }}"""
    return http_small.start_nginx(workdir, server, port, path="/body.txt")


def proxy_config(port: int, backend_port: int, algo: str, threads: bool) -> str:
    return f"""global
    {"nbthread 1" if threads else ""}
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
frontend fe
    bind 127.0.0.1:{port}
    compression algo {algo}
    compression type text/plain
    default_backend be
backend be
    server s1 127.0.0.1:{backend_port}
"""


@dataclass
class Sample:
    target: str
    requests: int
    seconds: float
    cpu: float
    wire_bytes: int  # what wrk read (compressed bodies and heads)
    mb_per_core: float = 0.0
    mb_per_s: float = 0.0


@dataclass
class Result:
    machine: dict[str, str]
    size: int
    ratio: dict[str, float] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    floors: dict[str, list[float]] = field(default_factory=dict)


def run_wrk(port: int, duration: float, connections: int, accept: str | None) -> tuple[int, int]:
    assert WRK is not None
    cmd = [WRK, "-t1", f"-c{connections}", f"-d{duration:g}s"]
    if accept:
        cmd += ["-H", f"Accept-Encoding: {accept}"]
    out = subprocess.run(
        [*cmd, f"http://127.0.0.1:{port}/body.txt"], capture_output=True, text=True, check=True
    ).stdout
    m = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)(\w+) read", out)
    if m is None or "Non-2xx" in out:
        raise RuntimeError(f"wrk: {out}")
    unit = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[m.group(3)]
    return int(m.group(1)), int(float(m.group(2)) * unit)


def measure(target: Target, name: str, args: argparse.Namespace, size: int) -> Sample:
    accept = None if name.endswith("identity") else name.rsplit("-", 1)[1]
    run_wrk(target.port, 1, args.connections, accept)  # warm up
    procs = target.processes()
    before = cpu_ticks(procs)
    t0 = time.monotonic()
    requests, wire = run_wrk(target.port, args.duration, args.connections, accept)
    seconds = time.monotonic() - t0
    after = cpu_ticks(procs)
    cpu = sum(t - before.get(r, 0) for r, t in after.items()) / CLOCK_TICKS
    s = Sample(name, requests, seconds, cpu, wire)
    s.mb_per_core = requests * size / MB / cpu if cpu else 0.0
    s.mb_per_s = requests * size / MB / args.duration
    return s


def start_target(name: str, workdir: Path, backend_port: int) -> Target:
    port = free_port()
    algo = "identity" if name.endswith("identity") else name.rsplit("-", 1)[1]
    algo = "gzip" if algo == "identity" else algo  # identity rows: a client that asks nothing
    d = workdir / name
    d.mkdir(exist_ok=True)
    if name.startswith("haproxy"):
        assert HAPROXY is not None
        config = proxy_config(port, backend_port, algo, True)
        return proxies.start_haproxy(HAPROXY, d, config, port, probe="/body.txt").target
    config = proxy_config(port, backend_port, algo, False)
    return proxies.start_lb(d, config, port, workers=1, probe="/body.txt").target


def floor(algo: str, body: bytes, seconds: float = 2.0) -> float:
    """MB/s of one core through lb's Compressor, 64 kB pieces, a flush after each."""
    pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    done = 0
    t0 = time.process_time()
    while time.process_time() - t0 < seconds:
        comp = Compressor(algo)
        for p in pieces:
            comp.feed(p)
            comp.drain()
        comp.finish()
        done += len(body)
    return done / MB / (time.process_time() - t0)


def ratio(algo: str, body: bytes) -> float:
    comp = Compressor(algo)
    comp.feed(body)
    return len(body) / len(comp.drain() + comp.finish())


def parse_size(text: str) -> int:
    mult = {"k": 1000, "m": 1000_000}.get(text[-1].lower(), 1)
    return int(text[:-1] if mult > 1 else text) * mult


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--size", default="100k")
    ap.add_argument("--only", action="append", choices=TARGETS + FLOORS)
    args = ap.parse_args()
    size = parse_size(args.size)
    body = text_body(size)
    chosen = args.only or list(TARGETS + FLOORS)
    machine = {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "haproxy": _haproxy_version(),
    }
    result = Result(machine, size, {a: ratio(a, body) for a in ("gzip", "br")})
    for f in FLOORS:
        if f in chosen:
            result.floors[f] = [floor(f.split("-")[1], body) for _ in range(args.rounds)]
    names = [t for t in TARGETS if t in chosen]
    with tempfile.TemporaryDirectory(prefix="bench-comp-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)  # nginx's worker (an unprivileged user) reads the body
        backend = start_backend(workdir / "backend", body)
        try:
            for rnd in range(args.rounds):
                order = names if rnd % 2 == 0 else list(reversed(names))
                for name in order:
                    target = start_target(name, workdir, backend.port)
                    try:
                        s = measure(target, name, args, size)
                    finally:
                        target.stop()
                    result.samples.append(s)
                    print(
                        f"round {rnd + 1} {name:17} {s.mb_per_s:8.1f} MB/s in  "
                        f"{s.mb_per_core:8.1f} MB/s per core  (cpu {s.cpu:.2f}s)",
                        flush=True,
                    )
        finally:
            backend.stop()
    report(result, args)


def report(result: Result, args: argparse.Namespace) -> None:
    lines = [
        f"`.venv/bin/python bench/compression.py --rounds {args.rounds} --duration "
        f"{args.duration:g} --connections {args.connections} --size {args.size}`",
        "",
        f"Body: {result.size} bytes of log-like text; compression ratio at lb's level: "
        + ", ".join(f"{a} {r:.2f}:1" for a, r in result.ratio.items())
        + ".",
        "",
        "| target | MB/s in (median) | bytes/response on the wire | MB/s per core min | median"
        " | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    by: dict[str, list[Sample]] = {}
    for s in result.samples:
        by.setdefault(s.target, []).append(s)
    for name, ss in by.items():
        per_core = sorted(s.mb_per_core for s in ss)
        lines.append(
            f"| {name} | {statistics.median(s.mb_per_s for s in ss):.1f} "
            f"| {statistics.median(s.wire_bytes // s.requests for s in ss)} "
            f"| {per_core[0]:.1f} | {statistics.median(per_core):.1f} | {per_core[-1]:.1f} |"
        )
    for name, values in result.floors.items():
        v = sorted(values)
        lines.append(
            f"| {name} (compressor alone) | - | - | {v[0]:.1f} | {statistics.median(v):.1f} "
            f"| {v[-1]:.1f} |"
        )
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    out = ROOT / "bench/out"
    out.mkdir(exist_ok=True)
    (out / "compression.md").write_text(text)
    (out / "compression.json").write_text(json.dumps(asdict(result), indent=2))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _haproxy_version() -> str:
    if HAPROXY is None:
        return "absent"
    out = subprocess.run([HAPROXY, "-v"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "?"


if __name__ == "__main__":
    main()
