#!/usr/bin/env python3
"""TCP bulk throughput through lb and HAProxy, and the CPU each proxy spends per GB.

    .venv/bin/python bench/tcp_bulk.py [--rounds 5] [--gb 4] [--streams 4] [--only haproxy]

One run starts one sink server, HAProxy (``nbthread 1``, ``mode tcp``, ``option splice-auto``)
and lb (``-n 1``), then interleaves rounds: in each round every target carries ``--gb`` GB
from a client process through the proxy to the server process, over ``--streams`` parallel
connections. A ``direct`` target (client straight to server) shows the ceiling of the
client and server themselves. The client sends with ``os.sendfile`` from a memfd, the server
drains with ``os.splice`` into /dev/null: neither copies payload through Python.

The proxy's CPU is utime+stime from /proc/PID/stat of all its processes (lb: master and
workers), read before and after each transfer. Results: a table on stdout, JSON and a
markdown block under bench/out/.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lb.bench.procs import CLOCK_TICKS, ProcRef, Target, cpu_ticks  # noqa: E402
from lb.bench.proxies import free_port  # noqa: E402
from tests.support.api import api_call, parse_show_proc  # noqa: E402

GB = 1_000_000_000
CHUNK_FILE = 64 << 20
F_SETPIPE_SZ = 1031
HAPROXY = shutil.which("haproxy", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
_VENV_PY = ROOT / ".venv/bin/python"
LB_PYTHON = str(_VENV_PY) if _VENV_PY.exists() else sys.executable


# --------------------------------------------------------------------------- server process


def _sink_conn(conn: socket.socket) -> None:
    total = 0
    fd = conn.fileno()
    try:
        r, w = os.pipe()
        with contextlib.suppress(OSError):
            fcntl.fcntl(w, F_SETPIPE_SZ, 1 << 20)
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            while True:
                n = os.splice(fd, w, 1 << 20)
                if n == 0:
                    break
                total += n
                while n:
                    n -= os.splice(r, null, n)
        finally:
            for f in (r, w, null):
                os.close(f)
        conn.sendall(struct.pack("!Q", total))
    except OSError:
        pass
    finally:
        conn.close()


def serve(port_file: str) -> None:
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(512)
    Path(port_file).write_text(str(ls.getsockname()[1]))
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=_sink_conn, args=(conn,), daemon=True).start()


# --------------------------------------------------------------------------- client process


def client(port: int, total: int, streams: int) -> None:
    mfd = os.memfd_create("tcp-bulk")
    os.write(mfd, os.urandom(CHUNK_FILE))
    per = total // streams
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(streams)]
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    acked: list[int] = [0] * streams
    errors: list[str] = []
    start = threading.Barrier(streams + 1)

    def push(i: int) -> None:
        s = socks[i]
        start.wait()
        try:
            left, off = per, 0
            while left:
                n = os.sendfile(s.fileno(), mfd, off, min(left, CHUNK_FILE - off))
                left -= n
                off = (off + n) % CHUNK_FILE
            s.shutdown(socket.SHUT_WR)
            ack = b""
            while len(ack) < 8:
                b = s.recv(8 - len(ack))
                if not b:
                    break
                ack += b
            acked[i] = struct.unpack("!Q", ack)[0] if len(ack) == 8 else -1
        except OSError as e:
            errors.append(repr(e))
        finally:
            s.close()

    threads = [threading.Thread(target=push, args=(i,)) for i in range(streams)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out = {
        "bytes": per * streams,
        "acked": sum(acked),
        "ok": not errors and all(a == per for a in acked),
        "errors": errors,
        "seconds": elapsed,
        "cpu_s": ru.ru_utime + ru.ru_stime,
    }
    print(json.dumps(out), flush=True)


# --------------------------------------------------------------------------- targets


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


TCP_DEFAULTS = """defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
"""


HAPROXY_SPLICE = {
    "auto": "    option splice-auto\n",
    "always": "    option splice-request\n    option splice-response\n",
    "off": "",
}


def _splice_options(mode: str) -> str:
    """HAProxy's splice lines for ``mode`` as inline code, for the markdown report."""
    lines = [f"`{line.strip()}`" for line in HAPROXY_SPLICE[mode].splitlines() if line.strip()]
    return " + ".join(lines) or "no splice option"


def start_haproxy(workdir: Path, server_port: int, splice: str) -> Target:
    assert HAPROXY is not None
    port = free_port()
    cfg = workdir / "haproxy.cfg"
    cfg.write_text(
        "global\n    nbthread 1\n    maxconn 1000\n"
        + TCP_DEFAULTS
        + HAPROXY_SPLICE[splice]
        + f"frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n"
        + f"backend be\n    server s1 127.0.0.1:{server_port}\n"
    )
    err = open(workdir / "haproxy.stderr", "wb")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen([HAPROXY, "-db", "-f", str(cfg)], stdout=err, stderr=err)
    wait_port(port, proc)
    return Target("haproxy", port, proc, ProcRef.of(proc.pid))


def start_lb(workdir: Path, server_port: int) -> Target:
    port = free_port()
    sock = workdir / "lb.sock"
    cfg = workdir / "lb.cfg"
    cfg.write_text(
        f"global\n    stats socket {sock} mode 600 level admin\n    maxconn 1000\n"
        + TCP_DEFAULTS
        + f"frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n"
        + f"backend be\n    server s1 127.0.0.1:{server_port}\n"
    )
    err = open(workdir / "lb.stderr", "wb")  # noqa: SIM115 - the child keeps it
    cmd = [LB_PYTHON, "-m", "lb", "-f", str(cfg), "-n", "1"]
    proc = subprocess.Popen(cmd, stdout=err, stderr=err, cwd=ROOT)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"lb exited with {proc.returncode}: {workdir / 'lb.stderr'}")
        with contextlib.suppress(OSError, ValueError):
            if parse_show_proc(api_call(str(sock), "show proc", 2)).current():
                break
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("lb not ready after 30s")
        time.sleep(0.05)
    wait_port(port, proc)
    return Target("lb", port, proc, ProcRef.of(proc.pid))


# --------------------------------------------------------------------------- measuring


@dataclass
class Sample:
    target: str
    round: int
    bytes: int
    seconds: float
    gbit_s: float
    proxy_cpu_s: float
    proxy_cpu_s_per_gb: float
    client_cpu_s: float
    server_cpu_s: float


def run_transfer(t: Target, server: ProcRef, rnd: int, total: int, streams: int) -> Sample:
    procs = t.processes()
    before = cpu_ticks(procs)
    srv_before = cpu_ticks([server])
    cmd = [sys.executable, __file__, "_client", str(t.port), str(total), str(streams)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    after = cpu_ticks(procs + t.processes())
    srv_after = cpu_ticks([server])
    if r.returncode != 0:
        raise RuntimeError(f"client failed through {t.name}: {r.stderr}")
    res = json.loads(r.stdout)
    if not res["ok"]:
        raise RuntimeError(f"transfer through {t.name} lost data: {res}")
    proxy_ticks = sum(after[p] - before.get(p, 0) for p in after)
    proxy_cpu = proxy_ticks / CLOCK_TICKS
    srv_cpu = (srv_after.get(server, 0) - srv_before.get(server, 0)) / CLOCK_TICKS
    gb = res["bytes"] / GB
    return Sample(
        target=t.name,
        round=rnd,
        bytes=res["bytes"],
        seconds=res["seconds"],
        gbit_s=res["bytes"] * 8 / 1e9 / res["seconds"],
        proxy_cpu_s=proxy_cpu,
        proxy_cpu_s_per_gb=proxy_cpu / gb,
        client_cpu_s=res["cpu_s"],
        server_cpu_s=srv_cpu,
    )


@dataclass
class Summary:
    target: str
    gbit_s: dict[str, float] = field(default_factory=dict)
    cpu_s_per_gb: dict[str, float] = field(default_factory=dict)
    client_cpu_s_per_gb: float = 0.0
    server_cpu_s_per_gb: float = 0.0


def mmm(xs: list[float]) -> dict[str, float]:
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs)}


def summarize(samples: list[Sample], target: str) -> Summary:
    mine = [s for s in samples if s.target == target]
    gb = sum(s.bytes for s in mine) / GB
    return Summary(
        target=target,
        gbit_s=mmm([s.gbit_s for s in mine]),
        cpu_s_per_gb=mmm([s.proxy_cpu_s_per_gb for s in mine]),
        client_cpu_s_per_gb=sum(s.client_cpu_s for s in mine) / gb,
        server_cpu_s_per_gb=sum(s.server_cpu_s for s in mine) / gb,
    )


def environment() -> dict[str, object]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    hv = ""
    if HAPROXY:
        out = subprocess.run([HAPROXY, "-v"], capture_output=True, text=True).stdout
        hv = out.splitlines()[0] if out else ""
    return {
        "kernel": platform.release(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "haproxy": hv,
        "note": f"{os.cpu_count()} cores in total: client, server and proxy share them",
    }


def fmt_row(cells: list[str], widths: list[int]) -> str:
    pairs = enumerate(zip(cells, widths, strict=True))
    return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in pairs)


def report(summaries: list[Summary], args: argparse.Namespace, env: dict[str, object]) -> str:
    head = ["target", "Gbit/s min", "median", "max", "CPU s/GB min", "median", "max"]
    rows = [head]
    for s in summaries:
        g, c = s.gbit_s, s.cpu_s_per_gb
        cpu = (
            [f"{c[k]:.3f}" for k in ("min", "median", "max")] if s.target != "direct" else ["-"] * 3
        )
        rows.append([s.target, *(f"{g[k]:.2f}" for k in ("min", "median", "max")), *cpu])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [fmt_row(r, widths) for r in rows]
    lines.append("")
    for s in summaries:
        lines.append(
            f"{s.target}: client {s.client_cpu_s_per_gb:.3f} CPU s/GB, "
            f"server {s.server_cpu_s_per_gb:.3f} CPU s/GB"
        )
    lines.append(f"NOTE: {env['note']}; {env['cpu']}; kernel {env['kernel']}.")
    return "\n".join(lines)


def ratios(summaries: list[Summary]) -> dict[str, float]:
    by = {s.target: s for s in summaries}
    if "lb" not in by or "haproxy" not in by:
        return {}
    lb, hp = by["lb"], by["haproxy"]
    return {
        "gbit_s_median_lb_over_haproxy": lb.gbit_s["median"] / hp.gbit_s["median"],
        "cpu_s_per_gb_median_lb_over_haproxy": lb.cpu_s_per_gb["median"]
        / hp.cpu_s_per_gb["median"],
    }


def markdown(
    summaries: list[Summary],
    rat: dict[str, float],
    args: argparse.Namespace,
    env: dict[str, object],
) -> str:
    out = [
        f"### TCP bulk ({time.strftime('%Y-%m-%d')}, `bench/tcp_bulk.py --rounds {args.rounds} "
        f"--gb {args.gb} --streams {args.streams} --haproxy-splice {args.haproxy_splice}`)",
        "",
        f"{env['cpu']}, {env['cores']} cores, kernel {env['kernel']}, Python {env['python']}, "
        f"{env['haproxy']}. Client, server and proxy share the {env['cores']} cores; "
        "client → proxy → sink on loopback, "
        f"{args.rounds} interleaved rounds of {args.gb} GB over {args.streams} streams each. "
        "CPU = utime+stime of every process of the proxy. "
        f"HAProxy: `nbthread 1`, `mode tcp`, splice: {args.haproxy_splice} "
        f"({_splice_options(args.haproxy_splice)}); lb: `-n 1`.",
        "",
        "| target | Gbit/s min | Gbit/s median | Gbit/s max | CPU s/GB min | CPU s/GB median "
        "| CPU s/GB max |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in summaries:
        g, c = s.gbit_s, s.cpu_s_per_gb
        cpu = (
            " | ".join(f"{c[k]:.3f}" for k in ("min", "median", "max"))
            if s.target != "direct"
            else "- | - | -"
        )
        gs = " | ".join(f"{g[k]:.2f}" for k in ("min", "median", "max"))
        out.append(f"| {s.target} | {gs} | {cpu} |")
    if rat:
        out += [
            "",
            f"lb/HAProxy: throughput x{rat['gbit_s_median_lb_over_haproxy']:.2f}, "
            f"CPU per GB x{rat['cpu_s_per_gb_median_lb_over_haproxy']:.2f} (medians).",
        ]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- main


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_server":
        serve(sys.argv[2])
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "_client":
        client(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return 0

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--gb", type=float, default=4.0, help="GB per target per round")
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument(
        "--only",
        action="append",
        choices=["lb", "haproxy", "direct"],
        help="targets to run (repeatable); default: direct, haproxy, lb",
    )
    ap.add_argument(
        "--haproxy-splice",
        choices=sorted(HAPROXY_SPLICE),
        default="auto",
        help="auto: option splice-auto (default); always: splice-request + splice-response",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench/out")
    args = ap.parse_args()
    targets_wanted = args.only or ["direct", "haproxy", "lb"]
    if "haproxy" in targets_wanted and HAPROXY is None:
        print("haproxy is not installed", file=sys.stderr)
        return 2
    total = int(args.gb * GB) // args.streams * args.streams
    env = environment()

    workdir = Path(tempfile.mkdtemp(prefix="tcp-bulk-"))
    port_file = workdir / "server.port"
    srv = subprocess.Popen([sys.executable, __file__, "_server", str(port_file)])
    targets: list[Target] = []
    samples: list[Sample] = []
    try:
        deadline = time.monotonic() + 10
        while not (port_file.exists() and port_file.read_text()):
            if time.monotonic() > deadline or srv.poll() is not None:
                raise RuntimeError("sink server did not start")
            time.sleep(0.02)
        server_port = int(port_file.read_text())
        server_ref = ProcRef.of(srv.pid)
        assert server_ref is not None
        for name in targets_wanted:
            if name == "direct":
                targets.append(Target("direct", server_port))
            elif name == "haproxy":
                targets.append(start_haproxy(workdir, server_port, args.haproxy_splice))
            else:
                targets.append(start_lb(workdir, server_port))
        print(
            f"# {len(targets)} targets x {args.rounds} rounds x {args.gb} GB, "
            f"{args.streams} streams; {env['note']}",
            flush=True,
        )
        for rnd in range(args.rounds):
            order = targets if rnd % 2 == 0 else targets[::-1]
            for t in order:
                s = run_transfer(t, server_ref, rnd, total, args.streams)
                samples.append(s)
                print(
                    f"round {rnd} {t.name:8s} {s.gbit_s:7.2f} Gbit/s  "
                    f"proxy {s.proxy_cpu_s:6.2f} CPU s ({s.proxy_cpu_s_per_gb:.3f} s/GB)  "
                    f"client {s.client_cpu_s:5.2f} s  server {s.server_cpu_s:5.2f} s",
                    flush=True,
                )
    finally:
        for t in targets:
            t.stop()
        srv.kill()
        srv.wait()

    summaries = [summarize(samples, t.name) for t in targets]
    rat = ratios(summaries)
    print()
    print(report(summaries, args, env))
    if rat:
        print(
            f"lb/haproxy median: throughput x{rat['gbit_s_median_lb_over_haproxy']:.2f}, "
            f"CPU s/GB x{rat['cpu_s_per_gb_median_lb_over_haproxy']:.2f}"
        )
    md = markdown(summaries, rat, args, env)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    result = {
        "bench": "tcp_bulk",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "params": {
            "rounds": args.rounds,
            "gb": args.gb,
            "streams": args.streams,
            "haproxy_splice": args.haproxy_splice,
        },
        "environment": env,
        "summary": {s.target: asdict(s) for s in summaries},
        "ratios": rat,
        "samples": [asdict(s) for s in samples],
    }
    (args.out / f"tcp_bulk-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"tcp_bulk-{stamp}.md").write_text(md)
    print(f"\nwritten: {args.out}/tcp_bulk-{stamp}.json and .md\n")
    print(md)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
