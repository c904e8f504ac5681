#!/usr/bin/env python3
"""Small HTTP responses through lb, HAProxy and nginx: requests/s, latency, proxy CPU/request.

    .venv/bin/python bench/http_small.py [--rounds 3] [--duration 10] [--connections 50]
                                         [--only lb --only haproxy --only nginx --only direct
                                          --only floor]
                                         [--scenario keepalive --scenario close]

wrk (2 threads, ``--latency``) → proxy → one backend: nginx serving a small static file (its
own config in a temporary directory, one worker, stopped by pid). Targets:

- ``direct``: wrk straight to the backend (the ceiling of client and backend themselves);
- ``haproxy``: Debian's haproxy ``-db``, ``nbthread 1``, ``mode http``,
  ``option http-keep-alive`` (server connections are pooled and reused);
- ``lb``: ``python -m lb -n 1`` with the same configuration;
- ``nginx``: nginx as a reverse proxy, one worker, ``proxy_http_version 1.1`` and an
  upstream ``keepalive`` pool;
- ``floor`` (only when asked for): ``bench/relay_floor.py``, a uvloop relay that parses
  nothing: the least a proxy built on uvloop transports can cost per request.

Scenarios: ``keepalive`` (wrk's connections persist) and ``close`` (wrk sends
``Connection: close``: one TCP connection per request on the client side). Rounds are
interleaved (the order of the targets alternates each round). The proxy's CPU is utime+stime
from /proc of all its processes, read before and after each run, divided by the requests wrk
completed. Output: a table on stdout, JSON and a markdown block under bench/out/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lb.bench import proxies  # noqa: E402
from lb.bench.procs import CLOCK_TICKS, ProcRef, Target, cpu_ticks  # noqa: E402
from lb.bench.proxies import free_port  # noqa: E402

SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
HAPROXY = shutil.which("haproxy", path=SBIN)
NGINX = shutil.which("nginx", path=SBIN)
WRK = shutil.which("wrk", path=SBIN)
_VENV_PY = ROOT / ".venv/bin/python"
LB_PYTHON = str(_VENV_PY) if _VENV_PY.exists() else sys.executable
BODY_SIZE = 128
TARGETS = ("direct", "haproxy", "lb", "nginx", "floor")
SCENARIOS = ("keepalive", "close")


def wait_http(
    port: int, proc: subprocess.Popen[bytes], timeout: float = 20, path: str = "/small.txt"
) -> None:
    """Wait until port answers a GET of ``path`` with a 200."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), 1) as s:
                s.settimeout(2)
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n".encode())
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
                if data.startswith(b"HTTP/1.1 200"):
                    return
                last = data[:100].decode(errors="replace")
        except OSError as e:
            last = repr(e)
        time.sleep(0.05)
    raise RuntimeError(f"no 200 on port {port} after {timeout}s: {last}")


# --------------------------------------------------------------------------- processes


def serving(
    name: str, port: int, proc: subprocess.Popen[bytes], path: str = "/small.txt"
) -> Target:
    """The started process as a Target, once it answers HTTP on ``port`` (stopped if not)."""
    t = Target(name, port, proc, ProcRef.of(proc.pid))
    try:
        wait_http(port, proc, path=path)
    except Exception:
        t.stop()
        raise
    return t


def nginx_conf(workdir: Path, body: str) -> str:
    return f"""daemon off;
master_process on;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/tmp;
    proxy_temp_path {workdir}/tmp;
    fastcgi_temp_path {workdir}/tmp;
    uwsgi_temp_path {workdir}/tmp;
    scgi_temp_path {workdir}/tmp;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
{body}
}}
"""


def start_nginx(workdir: Path, body: str, port: int, path: str = "/small.txt") -> Target:
    """nginx with ``body`` in its http block, ready once it serves ``path``."""
    assert NGINX is not None
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    cfg = workdir / "nginx.conf"
    cfg.write_text(nginx_conf(workdir, body))
    err = open(workdir / "nginx.stderr", "wb")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        [NGINX, "-c", str(cfg), "-p", str(workdir)], stdout=err, stderr=err, cwd=workdir
    )
    return serving("nginx", port, proc, path)


def start_backend(workdir: Path) -> Target:
    """nginx serving /small.txt (BODY_SIZE bytes) from workdir/www."""
    www = workdir / "www"
    www.mkdir(parents=True)
    (www / "small.txt").write_bytes(b"x" * (BODY_SIZE - 1) + b"\n")
    port = free_port()
    body = f"""    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {www};
        location / {{ }}
    }}"""
    t = start_nginx(workdir, body, port)
    t.name = "backend"
    return t


def start_nginx_proxy(workdir: Path, backend_port: int) -> Target:
    port = free_port()
    body = f"""    upstream be {{
        server 127.0.0.1:{backend_port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://be;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering on;
        }}
    }}"""
    return start_nginx(workdir, body, port)


# --seed-rules: the seed configuration's content switching (its ACLs and use_backend), with
# its static backend on the same server; /small.txt matches none and takes the default.
SEED_RULES = """
    acl url_static path_beg -i /static /image /js
    acl url_static path_end -i .html .jpg .gif .png .css .js
    use_backend static if url_static
"""
SEED_BACKEND = """
backend static
    server s2 127.0.0.1:{backend_port}
"""
RULES = {"frontend": "", "backend": ""}


def proxy_config(port: int, backend_port: int, first: str) -> str:
    rules = RULES["frontend"]
    extra = RULES["backend"].format(backend_port=backend_port)
    return f"""global
{first}    maxconn 4000

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s

frontend fe
    bind 127.0.0.1:{port}
    default_backend be{rules}
backend be
    server s1 127.0.0.1:{backend_port}
{extra}"""


def start_haproxy(workdir: Path, backend_port: int) -> Target:
    assert HAPROXY is not None
    workdir.mkdir(parents=True)
    port = free_port()
    config = proxy_config(port, backend_port, "    nbthread 1\n")
    return proxies.start_haproxy(HAPROXY, workdir, config, port, probe="/small.txt").target


def start_lb(workdir: Path, backend_port: int) -> Target:
    workdir.mkdir(parents=True)
    port = free_port()
    config = proxy_config(port, backend_port, "")
    return proxies.start_lb(workdir, config, port, workers=1, probe="/small.txt").target


def start_floor(workdir: Path, backend_port: int) -> Target:
    workdir.mkdir(parents=True)
    port = free_port()
    err = open(workdir / "floor.stderr", "wb")  # noqa: SIM115 - the child keeps it
    script = str(ROOT / "bench/relay_floor.py")
    proc = subprocess.Popen(
        [LB_PYTHON, script, str(port), str(backend_port)], stdout=err, stderr=err, cwd=ROOT
    )
    return serving("floor", port, proc)


# --------------------------------------------------------------------------- wrk


@dataclass
class Sample:
    target: str
    scenario: str
    round: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int
    proxy_cpu_s: float
    cpu_us_per_req: float
    backend_cpu_s: float
    wrk_cpu_s: float


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"latency {text!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


def parse_wrk(out: str) -> dict[str, float]:
    res: dict[str, float] = {}
    if m := re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out):
        res["requests"] = int(m.group(1))
        res["seconds"] = _ms(m.group(2) + m.group(3)) / 1000
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        res["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        if m := re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M):
            res[key] = _ms(m.group(1))
    errs = 0
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errs = sum(int(x) for x in m.groups())
    res["errors"] = errs
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    return res


def run_wrk(
    t: Target, backend: Target, scenario: str, rnd: int, args: argparse.Namespace
) -> Sample:
    assert WRK is not None
    cmd = [WRK, "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s"]
    cmd += ["--latency", "--timeout", "5s"]
    if scenario == "close":
        cmd += ["-H", "Connection: close"]
    cmd.append(f"http://127.0.0.1:{t.port}/small.txt")
    procs = t.processes() if t.name != "direct" else []
    bprocs = backend.processes()
    before, bbefore = cpu_ticks(procs), cpu_ticks(bprocs)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration * 4 + 30)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    after, bafter = cpu_ticks(procs), cpu_ticks(bprocs)
    if r.returncode != 0:
        raise RuntimeError(f"wrk failed: {r.stderr}")
    w = parse_wrk(r.stdout)
    cpu = sum(after.get(p, 0) - before.get(p, 0) for p in before) / CLOCK_TICKS
    bcpu = sum(bafter.get(p, 0) - bbefore.get(p, 0) for p in bbefore) / CLOCK_TICKS
    wrk_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    reqs = int(w.get("requests", 0))
    return Sample(
        target=t.name,
        scenario=scenario,
        round=rnd,
        requests=reqs,
        seconds=w.get("seconds", 0.0),
        rps=w.get("rps", 0.0),
        p50_ms=w.get("p50_ms", 0.0),
        p99_ms=w.get("p99_ms", 0.0),
        errors=int(w["errors"]),
        non_2xx=int(w["non_2xx"]),
        proxy_cpu_s=cpu,
        cpu_us_per_req=(cpu / reqs * 1e6) if reqs and t.name != "direct" else 0.0,
        backend_cpu_s=bcpu,
        wrk_cpu_s=wrk_cpu,
    )


# --------------------------------------------------------------------------- report


@dataclass
class Summary:
    target: str
    scenario: str
    rounds: int
    rps: dict[str, float] = field(default_factory=dict)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_us_per_req: dict[str, float] = field(default_factory=dict)
    errors: int = 0
    non_2xx: int = 0


def mmm(xs: list[float]) -> dict[str, float]:
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs)}


def summarize(samples: list[Sample]) -> list[Summary]:
    out = []
    keys = sorted(
        {(s.scenario, s.target) for s in samples},
        key=lambda k: (SCENARIOS.index(k[0]), TARGETS.index(k[1])),
    )
    for scen, tgt in keys:
        mine = [s for s in samples if s.target == tgt and s.scenario == scen]
        out.append(
            Summary(
                target=tgt,
                scenario=scen,
                rounds=len(mine),
                rps=mmm([s.rps for s in mine]),
                p50_ms=statistics.median(s.p50_ms for s in mine),
                p99_ms=statistics.median(s.p99_ms for s in mine),
                cpu_us_per_req=mmm([s.cpu_us_per_req for s in mine]),
                errors=sum(s.errors for s in mine),
                non_2xx=sum(s.non_2xx for s in mine),
            )
        )
    return out


def environment() -> dict[str, object]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def version(cmd: list[str]) -> str:
        with contextlib.suppress(OSError):
            p = subprocess.run(cmd, capture_output=True, text=True)
            text = (p.stdout or p.stderr).strip()
            return text.splitlines()[0] if text else ""
        return ""

    return {
        "kernel": platform.release(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "haproxy": version([HAPROXY, "-v"]) if HAPROXY else "",
        "nginx": version([NGINX, "-v"]) if NGINX else "",
        "wrk": version([WRK, "-v"]) if WRK else "",
    }


def table(summaries: list[Summary]) -> list[list[str]]:
    rows = [
        [
            "scenario",
            "target",
            "req/s min",
            "median",
            "max",
            "p50 ms",
            "p99 ms",
            "CPU µs/req min",
            "median",
            "max",
            "errors",
            "non-2xx",
        ]
    ]
    for s in summaries:
        c = s.cpu_us_per_req
        cpu = (
            [f"{c[k]:.0f}" for k in ("min", "median", "max")] if s.target != "direct" else ["-"] * 3
        )
        rows.append(
            [
                s.scenario,
                s.target,
                *(f"{s.rps[k]:.0f}" for k in ("min", "median", "max")),
                f"{s.p50_ms:.2f}",
                f"{s.p99_ms:.2f}",
                *cpu,
                str(s.errors),
                str(s.non_2xx),
            ]
        )
    return rows


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )


def ratios(summaries: list[Summary]) -> list[str]:
    out = []
    by = {(s.scenario, s.target): s for s in summaries}
    for scen in SCENARIOS:
        lb, hp = by.get((scen, "lb")), by.get((scen, "haproxy"))
        if lb and hp and hp.rps["median"] and hp.cpu_us_per_req["median"]:
            out.append(
                f"{scen}: lb/HAProxy req/s x{lb.rps['median'] / hp.rps['median']:.2f}, "
                f"CPU per request x{lb.cpu_us_per_req['median'] / hp.cpu_us_per_req['median']:.2f}"
                " (medians)"
            )
    return out


def markdown(summaries: list[Summary], args: argparse.Namespace, env: dict[str, object]) -> str:
    rows = table(summaries)
    out = [
        f"### HTTP small responses ({time.strftime('%Y-%m-%d')}, `bench/http_small.py "
        f"--rounds {args.rounds} --duration {args.duration} --connections {args.connections}`)",
        "",
        f"{env['cpu']}, {env['cores']} cores, kernel {env['kernel']}, Python {env['python']}, "
        f"{env['haproxy']}, {env['nginx']}, {env['wrk']}. wrk ({args.threads} threads, "
        f"{args.connections} connections, {args.duration} s per run) → proxy → nginx serving a "
        f"{BODY_SIZE}-byte file, all on loopback, sharing the {env['cores']} cores; "
        f"{args.rounds} interleaved rounds. CPU = utime+stime of every process of the proxy per "
        "completed request. HAProxy `nbthread 1`, lb `-n 1`, nginx proxy 1 worker with an "
        "upstream keepalive pool; HAProxy and lb with `option http-keep-alive`. `close` = "
        "wrk sends `Connection: close`.",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + "---|" * 2 + "---:|" * (len(rows[0]) - 2),
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    rat = ratios(summaries)
    if rat:
        out += ["", *rat]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", action="append", choices=TARGETS, help="repeatable")
    ap.add_argument("--scenario", action="append", choices=SCENARIOS, help="repeatable")
    ap.add_argument("--out", default=str(ROOT / "bench/out"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    ap.add_argument(
        "--seed-rules",
        action="store_true",
        help="the seed's ACLs and use_backend, in lb and HAProxy",
    )
    args = ap.parse_args()
    if args.seed_rules:
        RULES.update(frontend=SEED_RULES, backend=SEED_BACKEND)
    missing = [n for n, p in (("wrk", WRK), ("nginx", NGINX)) if p is None]
    if missing:
        print(f"missing: {' '.join(missing)} (apt-get install wrk nginx-light)", file=sys.stderr)
        return 2
    targets = list(args.only or ("direct", "haproxy", "lb", "nginx"))
    if "haproxy" in targets and HAPROXY is None:
        print("haproxy is not installed: skipped", file=sys.stderr)
        targets.remove("haproxy")
    scenarios = list(args.scenario or SCENARIOS)
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))

    env = environment()
    work = Path(tempfile.mkdtemp(prefix="http-small-"))
    work.chmod(0o755)  # nginx workers run as an unprivileged user when started by root
    started: list[Target] = []
    samples: list[Sample] = []
    try:
        backend = start_backend(work / "backend")
        started.append(backend)
        live: dict[str, Target] = {}
        for name in targets:
            if name == "direct":
                live[name] = Target("direct", backend.port)
            elif name == "haproxy":
                live[name] = start_haproxy(work / "haproxy", backend.port)
            elif name == "lb":
                live[name] = start_lb(work / "lb", backend.port)
            elif name == "nginx":
                live[name] = start_nginx_proxy(work / "nginx-proxy", backend.port)
            elif name == "floor":
                live[name] = start_floor(work / "floor", backend.port)
            started.append(live[name])
        for rnd in range(args.rounds):
            order = targets if rnd % 2 == 0 else list(reversed(targets))
            for scen in scenarios:
                for name in order:
                    s = run_wrk(live[name], backend, scen, rnd, args)
                    samples.append(s)
                    print(
                        f"round {rnd} {scen:9} {name:8} {s.rps:9.0f} req/s  p50 {s.p50_ms:6.2f} ms"
                        f"  p99 {s.p99_ms:6.2f} ms  proxy {s.cpu_us_per_req:5.0f} µs/req"
                        f"  errors {s.errors} non-2xx {s.non_2xx}",
                        flush=True,
                    )
    finally:
        for t in reversed(started):
            t.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    summaries = summarize(samples)
    print()
    print(text_table(table(summaries)))
    for line in ratios(summaries):
        print(line)
    print(f"NOTE: {env['cores']} cores shared by wrk, the proxy and the backend; {env['cpu']}.")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"http_small-{stamp}.json").write_text(
        json.dumps(
            {
                "env": env,
                "args": vars(args),
                "samples": [asdict(s) for s in samples],
                "summaries": [asdict(s) for s in summaries],
            },
            indent=2,
        )
    )
    (out / f"http_small-{stamp}.md").write_text(markdown(summaries, args, env))
    print(f"wrote {out}/http_small-{stamp}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
