#!/usr/bin/env python3
"""TLS termination through lb and Debian's HAProxy: handshakes/s and keep-alive requests/s.

    .venv/bin/python bench/tls.py [--rounds 2] [--duration 8] [--only lb --only haproxy]
                                  [--clients 4] [--connections 32]

Client → proxy (``bind … ssl crt site.pem``, an ECDSA P-256 certificate, TLS 1.3) →
nginx serving a 128-byte /small.txt over plain HTTP (pooled server connections).

- ``handshake``: every request on a new connection with a full handshake (no session
  resumption): ``--clients`` parallel ``openssl s_time -new -www /small.txt`` processes
  (C, sequential connections each);
- ``keepalive``: ``--clients`` Python processes, each with ``--connections`` persistent
  TLS connections doing GET /small.txt one after the other (asyncio + ssl).

Placement (2 cores): the proxy (every process of it) on CPU 0; the clients and nginx on
CPU 1. The proxy's CPU is utime+stime of all its processes from /proc, before and after
each run; the clients' from wait4(). A proxy near 100 % of its core is the limit; a
client core near 100 % with the proxy below means the client limited the run (both are
printed). Rounds alternate the order of the targets. Output: a table on stdout, JSON
and a markdown block under bench/out/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import ssl
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import http_small  # noqa: E402  (nginx backend and process helpers, shared)

from lb.bench import proxies  # noqa: E402
from lb.bench.procs import CLOCK_TICKS, Target, cpu_ticks  # noqa: E402
from lb.bench.proxies import free_port  # noqa: E402

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
HAPROXY = http_small.HAPROXY
PROXY_CPU = {0}
CLIENT_CPU = {1}
REQUEST = b"GET /small.txt HTTP/1.1\r\nHost: bench\r\n\r\n"


@dataclass
class Result:
    target: str
    scenario: str
    round: int
    seconds: float
    count: int  # handshakes (handshake) or requests (keepalive)
    proxy_cpu_s: float
    client_cpu_s: float  # the client processes'
    backend_cpu_s: float  # nginx's (on the client core too)

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    @property
    def proxy_util(self) -> float:
        return self.proxy_cpu_s / self.seconds

    @property
    def client_util(self) -> float:
        """The client core's use by the clients and nginx."""
        return (self.client_cpu_s + self.backend_cpu_s) / self.seconds

    @property
    def proxy_us_each(self) -> float:
        return self.proxy_cpu_s / self.count * 1e6 if self.count else 0.0


# --------------------------------------------------------------------------- set-up


def make_certificate(workdir: Path) -> Path:
    """A self-signed ECDSA P-256 certificate and its key in one PEM (HAProxy's crt)."""
    key, crt = workdir / "site.key", workdir / "site.crt"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "2", "-subj", "/CN=bench.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    pem = workdir / "site.pem"
    pem.write_text(crt.read_text() + key.read_text())
    return pem


def proxy_config(tls_port: int, plain_port: int, backend_port: int, pem: Path, first: str) -> str:
    return f"""global
{first}    maxconn 4000
    ssl-server-verify none

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s

frontend fe
    bind 127.0.0.1:{tls_port} ssl crt {pem}
    bind 127.0.0.1:{plain_port}
    default_backend be
backend be
    server s1 127.0.0.1:{backend_port}
"""


def start_proxy(name: str, workdir: Path, backend_port: int, pem: Path) -> tuple[Target, int]:
    """The proxy, ready (probed on its plain port), pinned to PROXY_CPU; and its TLS port."""
    workdir.mkdir(parents=True)
    tls_port, plain_port = free_port(), free_port()
    if name == "lb":
        config = proxy_config(tls_port, plain_port, backend_port, pem, "")
        running = proxies.start_lb(workdir, config, plain_port, workers=1, probe="/small.txt")
    else:
        assert HAPROXY is not None
        config = proxy_config(tls_port, plain_port, backend_port, pem, "    nbthread 1\n")
        running = proxies.start_haproxy(HAPROXY, workdir, config, plain_port, "/small.txt")
    pin(running.target, PROXY_CPU)
    return running.target, tls_port


def pin(target: Target, cpus: set[int]) -> None:
    for ref in target.processes():
        try:
            os.sched_setaffinity(ref.pid, cpus)
        except OSError:
            pass  # a process that just exited


# --------------------------------------------------------------------------- clients


def run_clients(argvs: list[list[str]]) -> tuple[list[str], float]:
    """Run the client processes (pinned to CLIENT_CPU) to their end: outputs, CPU seconds."""
    procs = [
        subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: os.sched_setaffinity(0, CLIENT_CPU),
        )
        for argv in argvs
    ]
    outputs, cpu = [], 0.0
    for p in procs:
        assert p.stdout is not None
        out = p.stdout.read().decode(errors="replace")
        _pid, _status, usage = os.wait4(p.pid, 0)
        p.returncode = 0
        cpu += usage.ru_utime + usage.ru_stime
        outputs.append(out)
    return outputs, cpu


_S_TIME = re.compile(r"(\d+) connections in ([\d.]+) real seconds")


def handshake_clients(port: int, clients: int, duration: int) -> tuple[int, float]:
    argv = [OPENSSL, "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-www", "/small.txt",
            "-time", str(duration)]  # fmt: skip
    outputs, cpu = run_clients([argv] * clients)
    total = 0
    for out in outputs:
        m = _S_TIME.search(out)
        if m is None:
            raise RuntimeError(f"openssl s_time said: {out[-300:]}")
        total += int(m.group(1))
    return total, cpu


def keepalive_clients(
    port: int, clients: int, connections: int, duration: int
) -> tuple[int, float]:
    argv = [sys.executable, __file__, "--keepalive-client", str(port), str(connections),
            str(duration)]  # fmt: skip
    outputs, cpu = run_clients([argv] * clients)
    total = 0
    for out in outputs:
        try:
            total += int(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RuntimeError(f"keep-alive client said: {out[-300:]}") from None
    return total, cpu


async def _keepalive_connection(port: int, ctx: ssl.SSLContext, until: float) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
    done = 0
    loop = asyncio.get_running_loop()
    try:
        while loop.time() < until:
            writer.write(REQUEST)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            done += 1
    finally:
        writer.close()
    return done


async def _keepalive_main(port: int, connections: int, duration: float) -> int:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    until = asyncio.get_running_loop().time() + duration
    counts = await asyncio.gather(
        *(_keepalive_connection(port, ctx, until) for _ in range(connections))
    )
    return sum(counts)


def keepalive_client_main(port: int, connections: int, duration: float) -> None:
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run  # type: ignore[assignment]
    print(run(_keepalive_main(port, connections, duration)))


# --------------------------------------------------------------------------- runs


def measure(
    target: Target,
    backend: Target,
    name: str,
    port: int,
    scenario: str,
    rnd: int,
    args: argparse.Namespace,
) -> Result:
    pin(target, PROXY_CPU)
    before = cpu_ticks(target.processes())
    backend_before = cpu_ticks(backend.processes())
    t0 = time.monotonic()
    if scenario == "handshake":
        count, client_cpu = handshake_clients(port, args.clients, args.duration)
    else:
        count, client_cpu = keepalive_clients(port, args.clients, args.connections, args.duration)
    seconds = time.monotonic() - t0
    after = cpu_ticks(target.processes())
    ticks = sum(after.get(r, 0) - before.get(r, 0) for r in after)
    backend_after = cpu_ticks(backend.processes())
    backend_ticks = sum(backend_after.get(r, 0) - backend_before.get(r, 0) for r in backend_after)
    return Result(
        name,
        scenario,
        rnd,
        seconds,
        count,
        ticks / CLOCK_TICKS,
        client_cpu,
        backend_ticks / CLOCK_TICKS,
    )


def summarize(results: list[Result]) -> list[dict[str, object]]:
    rows = []
    for target in sorted({r.target for r in results}):
        for scenario in ("handshake", "keepalive"):
            mine = [r for r in results if r.target == target and r.scenario == scenario]
            if not mine:
                continue
            best = max(mine, key=lambda r: r.rate)
            rows.append(
                {
                    "target": target,
                    "scenario": scenario,
                    "rate": round(best.rate),
                    "rates": [round(r.rate) for r in mine],
                    "proxy_core_pct": round(best.proxy_util * 100),
                    "proxy_us_each": round(best.proxy_us_each, 1),
                    "client_core_pct": round(best.client_util * 100),
                }
            )
    return rows


def markdown(rows: list[dict[str, object]], args: argparse.Namespace) -> str:
    load = Path("/proc/loadavg").read_text().split()[:3]
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
        f"load average at the end {' '.join(load)}; "
        f"{args.rounds} rounds of {args.duration}s, {args.clients} client processes"
        f" ({args.connections} connections each for keep-alive); best round shown.",
        "",
        "| target | scenario | per second | proxy core % | proxy CPU µs each | "
        "client core % (clients + nginx) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['target']} | {r['scenario']} | {r['rate']} | {r['proxy_core_pct']} | "
            f"{r['proxy_us_each']} | {r['client_core_pct']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--keepalive-client":
        keepalive_client_main(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--only", action="append", choices=("lb", "haproxy"))
    ap.add_argument("--scenario", action="append", choices=("handshake", "keepalive"))
    args = ap.parse_args()
    names = args.only or (["lb", "haproxy"] if HAPROXY else ["lb"])
    scenarios = args.scenario or ["handshake", "keepalive"]
    import tempfile

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="lb-tls-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)  # nginx's workers (an unprivileged user) read the backend's files
        pem = make_certificate(work)
        backend = http_small.start_backend(work / "backend")
        pin(backend, CLIENT_CPU)
        live: dict[str, tuple[Target, int]] = {}
        try:
            for name in names:
                live[name] = start_proxy(name, work / name, backend.port, pem)
            for rnd in range(args.rounds):
                order = names if rnd % 2 == 0 else names[::-1]
                for scenario in scenarios:
                    for name in order:
                        target, port = live[name]
                        r = measure(target, backend, name, port, scenario, rnd, args)
                        results.append(r)
                        print(
                            f"{name:8} {scenario:9} round {rnd}: {r.rate:8.0f}/s  proxy "
                            f"{r.proxy_util * 100:3.0f}% ({r.proxy_us_each:.0f} µs each)  "
                            f"client {r.client_util * 100:3.0f}%",
                            flush=True,
                        )
        finally:
            for target, _port in live.values():
                target.stop()
            backend.stop()
    rows = summarize(results)
    text = markdown(rows, args)
    print()
    print(text)
    out = ROOT / "bench/out"
    out.mkdir(exist_ok=True)
    (out / "tls.json").write_text(
        json.dumps({"rows": rows, "runs": [asdict(r) for r in results]}, indent=2)
    )
    (out / "tls.md").write_text(text)


if __name__ == "__main__":
    main()
