"""``lb-bench compare``: lb and its peers through the same scenarios, in one run on one machine.

One ``serve`` backend for everything. Each proxy starts once per configuration family
(generic http, generic tcp, the seed's) and stays up across rounds, except for idle-
connection runs, which get a fresh proxy each time: a proxy keeps memory it once used, so a
second measurement on the same process would find the connections' memory already there.
Rounds go round-major and the order of the targets flips every round, so that drift in the
machine's load hits every target alike. Per run: the client's figures, and the proxy's own
CPU (utime + stime from /proc of all its processes, read when the clock starts and stops).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shlex
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lb
from lb.bench import htmlreport, peers, proxyconf, wrk
from lb.bench.errors import EXIT_FAILED, EXIT_MISSING, EXIT_PROXY, EXIT_USAGE, BenchError
from lb.bench.httprun import HttpResult, HttpSpec, jobs_for, preflight, run_http
from lb.bench.httpwire import Target as HttpTarget
from lb.bench.pool import Pool
from lb.bench.procs import CLOCK_TICKS, ProcRef, cpu_ticks, memory
from lb.bench.progress import Progress
from lb.bench.proxies import (
    Running,
    free_port,
    make_workdir,
    start_backend,
    start_haproxy,
    start_lb,
    start_nginx,
)
from lb.bench.scenarios import Scenario, select
from lb.bench.summary import (
    HEADLINE,
    markdown_table,
    ratio_rows,
    ratios,
    summarize,
    table_rows,
    text_table,
)
from lb.bench.tcprun import TcpSpec, run_tcp
from lb.bench.worker import raise_fd_limit

TARGETS = ("lb", "haproxy", "nginx", "direct")
PEERS = ("haproxy", "nginx")
HOST = "127.0.0.1"


def default_seed() -> Path:
    """The seed's HAProxy file as kept in the source tree (bench/scenarios/)."""
    return Path(lb.__file__).resolve().parents[1] / "bench" / "scenarios" / "seed-haproxy.cfg"


@dataclass
class Plan:
    scenarios: list[Scenario]
    targets: list[str]
    skipped: list[dict[str, Any]]  # {"target", "scenario" (None: all), "reason"}
    binaries: dict[str, str]
    seed_text: str
    stream: peers.StreamSupport
    idle_connections: int = 0
    maxconn: int = 4000
    fd_limit: int = 0
    notes: list[str] = field(default_factory=list)


def fd_hard_limit() -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1 << 20 if hard == resource.RLIM_INFINITY else hard


def size_connections(plan: Plan, wanted: int, hard: int) -> None:
    """maxconn for every proxy, and the idle connections that fit the open-files limit.

    HAProxy refuses to start unless 2 * maxconn + 14 descriptors fit under the limit, and
    only a privileged process can raise the hard limit: past it, fewer idle connections are
    opened (the same number for every target), and the report says so."""
    plan.fd_limit = hard
    if not any(s.kind == "idle" for s in plan.scenarios):
        return
    fit = (hard - 14) // 2 - 50
    n = wanted
    if "haproxy" in plan.targets and wanted > fit:
        n = fit
        plan.notes.append(
            f"idle connections: {n} instead of {wanted}: the open-files hard limit is {hard} "
            "and HAProxy needs 2 descriptors per connection of its maxconn (raise the hard "
            "limit, e.g. LimitNOFILE= or ulimit -Hn as root, to open more)"
        )
    plan.idle_connections = n
    plan.maxconn = max(plan.maxconn, n + 50)


def resolve(a: argparse.Namespace) -> Plan:
    """Scenarios, targets and programs for this run; errors for what was asked and is missing."""
    try:
        scenarios = select(a.scenario, a.scenario_file)
    except ValueError as e:
        raise BenchError(str(e), EXIT_USAGE) from None
    skipped: list[dict[str, Any]] = []
    binaries: dict[str, str] = {}
    for name in PEERS:
        path = peers.find(name)
        if path:
            binaries[name] = path
    if a.targets:
        targets = [t.strip() for t in a.targets.split(",") if t.strip()]
        unknown = [t for t in targets if t not in TARGETS]
        if unknown:
            raise BenchError(
                f"unknown target {', '.join(unknown)} (known: {', '.join(TARGETS)})", EXIT_USAGE
            )
        for t in targets:
            if t in PEERS and t not in binaries:
                raise BenchError(
                    f"{t} is not installed ({peers.INSTALL_HINT[t]}), and --targets asks for it",
                    EXIT_MISSING,
                )
        targets = list(dict.fromkeys(targets))
    else:
        targets = ["lb"]
        for t in PEERS:
            if t in binaries:
                targets.append(t)
            else:
                skipped.append(
                    {
                        "target": t,
                        "scenario": None,
                        "reason": f"not installed ({peers.INSTALL_HINT[t]})",
                    }
                )
    if a.client == "wrk":
        path = peers.find("wrk")
        if not path:
            raise BenchError(f"wrk is not installed ({peers.INSTALL_HINT['wrk']})", EXIT_MISSING)
        binaries["wrk"] = path
    seed_text = ""
    if any(s.config == "seed" for s in scenarios):
        path = Path(a.seed_config) if a.seed_config else default_seed()
        try:
            seed_text = path.read_text()
            proxyconf.seed_frontend(seed_text)
        except (OSError, ValueError) as e:
            reason = getattr(e, "strerror", None) or str(e)
            if a.seed_config or any(n for n in a.scenario if "seed" in n):
                raise BenchError(f"seed configuration {path}: {reason}", EXIT_USAGE) from None
            scenarios = [s for s in scenarios if s.config != "seed"]
            skipped.append({"target": "all", "scenario": "seed-acl", "reason": f"{path}: {reason}"})
    stream = peers.StreamSupport(False, reason="nginx not used")
    if "nginx" in targets and any(s.kind == "tcp" for s in scenarios):
        stream = peers.nginx_stream(binaries["nginx"])
    for s in scenarios:
        if s.kind == "tcp" and "nginx" in targets and not stream.ok:
            skipped.append({"target": "nginx", "scenario": s.name, "reason": stream.reason})
        if s.kind == "idle" and "direct" in targets:
            skipped.append(
                {"target": "direct", "scenario": s.name, "reason": "no proxy to measure"}
            )
        if s.kind == "idle" and a.client == "wrk":
            pass  # wrk cannot hold connections: lb-bench's own client does it (said in 'what')
    plan = Plan(scenarios, targets, skipped, binaries, seed_text, stream)
    size_connections(plan, a.idle_connections, fd_hard_limit())
    return plan


def is_skipped(plan: Plan, target: str, scenario: str) -> str | None:
    for s in plan.skipped:
        if s["target"] in (target, "all") and s["scenario"] in (None, scenario):
            return str(s["reason"])
    return None


# ------------------------------------------------------------------------------ the lab


class Lab:
    """The backend, a syslog sink, and the proxies, started when first needed."""

    def __init__(self, plan: Plan, a: argparse.Namespace, work: Path) -> None:
        self.plan = plan
        self.a = a
        self.work = work
        self.maxconn = plan.maxconn
        self.backend, self.http_port, self.tcp_port = start_backend(
            make_workdir(work, "backend"), a.backend_workers
        )
        # the seed logs every request over syslog/UDP: a socket that nobody reads takes it
        self.sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sink.bind((HOST, 0))
        self.log_addr = f"{HOST}:{self.sink.getsockname()[1]}"
        self.running: dict[tuple[str, str], Running] = {}
        self.failed: dict[tuple[str, str], str] = {}
        self.count = 0

    def close(self) -> None:
        for r in self.running.values():
            r.stop()
        self.running.clear()
        self.backend.stop()
        self.sink.close()

    def backend_port(self, config: str) -> int:
        return self.tcp_port if config == "tcp" else self.http_port

    def probe(self, sc: Scenario) -> str:
        return "tcp" if sc.config == "tcp" else sc.paths[0]

    def proxy(self, target: str, sc: Scenario) -> Running | None:
        """The running proxy for target in sc's configuration (None: direct)."""
        if target == "direct":
            return None
        key = (target, sc.config)
        if key in self.failed:
            raise BenchError(self.failed[key], EXIT_PROXY)
        r = self.running.get(key)
        if r is not None and r.alive():
            return r
        try:
            r = self.start(target, sc)
        except BenchError as e:
            self.failed[key] = str(e)
            raise
        self.running[key] = r
        return r

    def start(self, target: str, sc: Scenario) -> Running:
        """A new proxy process for target in sc's configuration, warmed up. Only idle runs
        get the large maxconn: HAProxy sizes its file descriptors (and splice pipes) by it."""
        maxconn = self.maxconn if sc.kind == "idle" else 4000
        self.count += 1
        workdir = make_workdir(self.work, f"{target}-{sc.config}-{self.count}")
        port = free_port(HOST)
        ports = proxyconf.Ports(port, self.backend_port(sc.config), HOST)
        probe = self.probe(sc)
        backend = f"{HOST}:{self.http_port}"
        if target in ("lb", "haproxy"):
            hp = target == "haproxy"
            if sc.config == "http":
                text = proxyconf.haproxy_http(ports, maxconn=maxconn, haproxy=hp)
            elif sc.config == "tcp":
                text = proxyconf.haproxy_tcp(ports, maxconn=maxconn, haproxy=hp)
            else:
                text = proxyconf.seed_for_bench(
                    self.plan.seed_text, listen=port, backend=backend, log=self.log_addr, haproxy=hp
                )
            if hp:
                r = start_haproxy(self.plan.binaries["haproxy"], workdir, text, port, probe)
            else:
                r = start_lb(workdir, text, port, self.a.lb_workers, probe)
        else:
            conns = maxconn
            if sc.config == "http":
                body, load = proxyconf.nginx_http(ports, str(workdir)), ""
            elif sc.config == "tcp":
                body, load = proxyconf.nginx_tcp(ports), self.plan.stream.load_line
            else:
                body, load = proxyconf.nginx_seed(ports, str(workdir), self.log_addr), ""
            text = proxyconf.nginx_main(str(workdir), conns, body, load, self.plan.fd_limit)
            r = start_nginx(self.plan.binaries["nginx"], workdir, text, port, probe)
        if sc.kind != "tcp":
            warm = HttpSpec(
                urls=[f"http://{HOST}:{port}{p}" for p in sc.paths],
                connections=4,
                count=400,
                duration=None,
            )
            with contextlib.suppress(BenchError):
                run_http(warm)
        return r


# ------------------------------------------------------------------------------ one run


def _cpu(refs: list[ProcRef]) -> dict[ProcRef, int]:
    return cpu_ticks(refs)


def _delta(before: dict[ProcRef, int], after: dict[ProcRef, int]) -> float:
    return sum(t - before.get(r, 0) for r, t in after.items()) / CLOCK_TICKS


class Meter:
    """CPU of the proxy and the backend between start() and stop()."""

    def __init__(self, proxy: Running | None, backend: Running) -> None:
        self.proxy = proxy
        self.backend = backend
        self.p0: dict[ProcRef, int] = {}
        self.b0: dict[ProcRef, int] = {}
        self.proxy_s = 0.0
        self.backend_s = 0.0
        self.t0 = 0.0
        self.seconds = 0.0

    def _procs(self) -> list[ProcRef]:
        return self.proxy.processes() if self.proxy is not None else []

    def start(self) -> None:
        self.p0, self.b0 = _cpu(self._procs()), _cpu(self.backend.processes())
        self.t0 = time.monotonic()

    def stop(self) -> None:
        self.seconds = time.monotonic() - self.t0
        self.proxy_s = _delta(self.p0, _cpu(self._procs()))
        self.backend_s = _delta(self.b0, _cpu(self.backend.processes()))


def _non_2xx(statuses: dict[Any, int]) -> int:
    return sum(n for k, n in statuses.items() if not 200 <= int(k) < 400)


def run_http_sample(lab: Lab, sc: Scenario, proxy: Running | None, port: int) -> dict[str, Any]:
    a = lab.a
    meter = Meter(proxy, lab.backend)
    base = f"http://{HOST}:{port}"
    if a.client == "wrk":
        if sc.pipeline > 1:
            raise BenchError("wrk does not pipeline: run this scenario with --client lb-bench")
        cmd = wrk.command(
            lab.plan.binaries["wrk"],
            base,
            list(sc.paths),
            connections=a.connections,
            threads=a.client_processes,
            duration=a.duration,
            close=sc.close,
            timeout=5.0,
            script_dir=lab.work,
        )
        preflight(HOST, port, 5.0)
        meter.start()
        w = wrk.run(cmd, a.duration)
        meter.stop()
        lat, reqs, rps = w["latency_s"], w["requests"], w["requests_per_s"]
        errors, non2xx, client_cpu = w["errors"], w["non_2xx"], None
    else:
        spec = HttpSpec(
            urls=[base + p for p in sc.paths],
            connections=a.connections,
            duration=a.duration,
            close=sc.close,
            pipeline=sc.pipeline,
            processes=a.client_processes,
        )
        res: HttpResult = run_http(spec, on_start=meter.start, on_finish=meter.stop)
        s = res.summary()
        lat, reqs, rps = s["latency_s"], s["requests"], s["requests_per_s"]
        errors, non2xx = s["errors"], _non_2xx(s["statuses"])
        client_cpu = s["client_cpu_us_per_request"]
    metrics = {
        "rps": rps,
        "p50_ms": lat.get("p50", 0) * 1e3 if "p50" in lat else None,
        "p90_ms": lat["p90"] * 1e3 if "p90" in lat else None,
        "p99_ms": lat["p99"] * 1e3 if "p99" in lat else None,
        "p99.9_ms": lat["p99.9"] * 1e3 if "p99.9" in lat else None,
        "cpu_us_per_req": meter.proxy_s / reqs * 1e6 if reqs and proxy is not None else None,
        "client_cpu_us_per_req": client_cpu,
    }
    return {
        "ok": reqs > 0,
        "error": "" if reqs else "no response",
        "metrics": metrics,
        "requests": reqs,
        "errors": errors,
        "non_2xx": non2xx,
        "proxy_cpu_s": meter.proxy_s,
        "backend_cpu_s": meter.backend_s,
        "seconds": meter.seconds,
    }


def run_tcp_sample(lab: Lab, sc: Scenario, proxy: Running | None, port: int) -> dict[str, Any]:
    a = lab.a
    meter = Meter(proxy, lab.backend)
    spec = TcpSpec(HOST, port, a.streams, a.duration, "up", None, 5.0)
    res = run_tcp(spec, on_start=meter.start, on_finish=meter.stop)
    s = res.summary()
    gb = s["bytes"] / 1e9
    per_gb = meter.proxy_s / gb if gb and proxy is not None else None
    metrics = {
        "gbit_s": s["gbit_s"],
        "cpu_s_per_gb": per_gb,
        # 10 Gbit/s is 1.25 GB/s: CPU seconds per second of traffic, i.e. cores, if the
        # proxy scaled linearly across its processes (an extrapolation, and labelled as one)
        "cores_10g": per_gb * 1.25 if per_gb is not None else None,
    }
    return {
        "ok": s["bytes"] > 0 and not s["errors"],
        "error": "" if not s["errors"] else "stream errors",
        "metrics": metrics,
        "bytes": s["bytes"],
        "errors": s["errors"],
        "client_cpu_s_per_gb": s["client_cpu_s_per_gb"],
        "proxy_cpu_s": meter.proxy_s,
        "backend_cpu_s": meter.backend_s,
        "seconds": meter.seconds,
    }


def run_idle_sample(lab: Lab, sc: Scenario, target: str) -> dict[str, Any]:
    """A fresh proxy; its memory; N connections that each made one request, held open; its
    memory again. The difference over N is the memory per idle connection."""
    a = lab.a
    n = lab.plan.idle_connections
    proxy = lab.start(target, sc)
    try:
        time.sleep(0.5)
        m0 = memory(proxy.processes())
        spec = HttpSpec(
            urls=[f"http://{HOST}:{proxy.port}{sc.paths[0]}"],
            connections=n,
            count=n,
            duration=None,
            processes=a.client_processes,
            timeout=30.0,
        )
        jobs = jobs_for(spec, HttpTarget.from_urls(spec.urls), hold=True)
        with Pool("http", [j.to_json() for j in jobs]) as pool:
            pool.collect("ready", 120 + n / 100)
            pool.send("go")
            held_msgs = pool.collect("held", 120 + n / 100)
            held = sum(h["held"] for h in held_msgs)
            time.sleep(1.0)  # let the proxy finish with the requests (pooled buffers, timers)
            m1 = memory(proxy.processes())
            alive = proxy.alive()
            pool.send("release")
            results = pool.collect("result", 60)
        responses = sum(r["result"]["responses"] for r in results)
        errors: dict[str, int] = {}
        for r in results:
            for k, v in r["result"]["errors"].items():
                errors[k] = errors.get(k, 0) + v
    finally:
        proxy.stop()
    ok = held > 0 and alive
    return {
        "ok": ok,
        "error": "" if ok else ("proxy died" if not alive else "no connection held"),
        "metrics": {
            "pss_kb_per_conn": (m1.pss - m0.pss) / held / 1000 if held else None,
            "rss_kb_per_conn": (m1.rss - m0.rss) / held / 1000 if held else None,
        },
        "connections": held,
        "requests": responses,
        "errors": errors,
        "memory_before": {"rss": m0.rss, "pss": m0.pss},
        "memory_after": {"rss": m1.rss, "pss": m1.pss},
    }


def run_sample(lab: Lab, sc: Scenario, target: str, rnd: int) -> dict[str, Any]:
    sample: dict[str, Any] = {"scenario": sc.name, "kind": sc.kind, "target": target, "round": rnd}
    try:
        if sc.kind == "idle":
            sample.update(run_idle_sample(lab, sc, target))
            return sample
        proxy = lab.proxy(target, sc)
        port = proxy.port if proxy is not None else lab.backend_port(sc.config)
        if sc.kind == "tcp":
            sample.update(run_tcp_sample(lab, sc, proxy, port))
        else:
            sample.update(run_http_sample(lab, sc, proxy, port))
        if proxy is not None and not proxy.alive():
            sample["ok"] = False
            sample["error"] = f"{target} died during the run: {proxy.log_tail()}"
    except BenchError as e:
        sample.update({"ok": False, "error": str(e), "error_code": e.code, "metrics": {}})
    return sample


# ------------------------------------------------------------------------------ reporting


def environment(plan: Plan) -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    env: dict[str, Any] = {
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "lb": lb.__version__,
    }
    for name in ("haproxy", "nginx", "wrk"):
        if name in plan.binaries:
            env[name] = peers.version(plan.binaries[name], "-v")
    return env


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return ""


def describe(sc: Scenario, a: argparse.Namespace, plan: Plan) -> str:
    if sc.kind == "tcp":
        return (
            f"{a.streams} upload streams (sendfile → proxy → splice sink), {a.duration:g}s per run"
        )
    if sc.kind == "idle":
        return (
            f"{plan.idle_connections} keep-alive connections, one request each ({sc.paths[0]}), "
            "then held open; a fresh proxy per run; memory = PSS/RSS of all its processes "
            "(/proc/PID/smaps_rollup) with the connections held, minus before"
        )
    client = "wrk" if a.client == "wrk" else "lb-bench http"
    mode = "a connection per request" if sc.close else "keep-alive"
    cfg = {"http": "generic http proxy", "seed": "the seed's configuration on loopback"}[sc.config]
    paths = ", ".join(sc.paths[:3]) + (" …" if len(sc.paths) > 3 else "")
    return (
        f"{client}, {a.connections} connections, {mode}, {a.duration:g}s per run, "
        f"{a.client_processes} client process(es); {cfg}; requests {paths}"
    )


def text_report(result: dict[str, Any]) -> str:
    out = []
    for sc in result["scenarios"]:
        per = result["summary"].get(sc["name"])
        out.append(f"== {sc['name']}: {sc['title']}")
        if not per:
            out.append("   no successful run")
            continue
        out.append(text_table(table_rows(sc["kind"], per, result["targets"])))
        rat = result["ratios"].get(sc["name"])
        if rat:
            out.append(text_table(ratio_rows(sc["kind"], rat)))
        out.append("")
    return "\n".join(out)


def markdown_report(result: dict[str, Any]) -> str:
    env = result["environment"]
    out = [
        f"### lb-bench compare — {result['started'][:10]}",
        "",
        f"`{result['command']}`",
        "",
        f"{env.get('cpu')}, {env.get('cores')} cores, {env.get('memory')}, kernel "
        f"{env.get('kernel')}, Python {env.get('python')}, lb {env.get('lb')}; "
        + ", ".join(str(env[k]) for k in ("haproxy", "nginx", "wrk") if env.get(k))
        + f". Load average before/after: {result['loadavg_before']} / {result['loadavg_after']}.",
        "",
    ]
    for sc in result["scenarios"]:
        per = result["summary"].get(sc["name"])
        out.append(f"**{sc['name']}** — {sc['title']}. {sc['what']}.")
        out.append("")
        if not per:
            out += ["No successful run.", ""]
            continue
        out.append(markdown_table(table_rows(sc["kind"], per, result["targets"])))
        rat = result["ratios"].get(sc["name"])
        if rat:
            out += ["", markdown_table(ratio_rows(sc["kind"], rat))]
        out.append("")
    for s in result["skipped"]:
        where = f" ({s['scenario']})" if s.get("scenario") else ""
        out.append(f"- skipped: {s['target']}{where}: {s['reason']}")
    for note in result.get("notes", []):
        out.append(f"- note: {note}")
    return "\n".join(out) + "\n"


def _line(s: dict[str, Any]) -> str:
    if not s["ok"]:
        return f"FAILED: {s['error']}"
    m = s["metrics"]
    parts = []
    for k in HEADLINE[s["kind"]]:
        v = m.get(k)
        if v is not None:
            parts.append(f"{k} {v:.4g}")
    errs = sum(s.get("errors", {}).values())
    if errs:
        parts.append(f"errors {errs}")
    if s.get("non_2xx"):
        parts.append(f"non-2xx {s['non_2xx']}")
    return "  ".join(parts)


# ------------------------------------------------------------------------------ main


def run_compare(a: argparse.Namespace) -> int:
    if a.list:
        try:
            scen = select([], a.scenario_file)
        except ValueError as e:
            raise BenchError(str(e), EXIT_USAGE) from None
        for s in scen:
            print(f"{s.name:16} {s.kind:5} {s.title}")
        return 0
    plan = resolve(a)
    progress = Progress(enabled=not a.quiet)
    for s in plan.skipped:
        where = f" in {s['scenario']}" if s.get("scenario") else ""
        print(f"lb-bench compare: {s['target']}{where} skipped: {s['reason']}", file=sys.stderr)
    for note in plan.notes:
        print(f"lb-bench compare: {note}", file=sys.stderr)
    raise_fd_limit(plan.idle_connections + 1024)
    out_dir = Path(a.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BenchError(f"--out {a.out}: {e.strerror}", EXIT_USAGE) from None
    work = Path(tempfile.mkdtemp(prefix="lb-bench-"))
    os.chmod(work, 0o755)
    runs = [
        (rnd, sc, t)
        for rnd in range(a.rounds)
        for sc in plan.scenarios
        for t in (plan.targets if rnd % 2 == 0 else plan.targets[::-1])
        if not is_skipped(plan, t, sc.name)
    ]
    result: dict[str, Any] = {
        "tool": "lb-bench compare",
        "command": "lb-bench " + shlex.join(a.argv),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "environment": environment(plan),
        "loadavg_before": loadavg(),
        "params": {
            k: getattr(a, k)
            for k in (
                "rounds",
                "duration",
                "client",
                "connections",
                "client_processes",
                "streams",
                "idle_connections",
                "lb_workers",
                "backend_workers",
            )
        },
        "scenarios": [
            dict(s.__dict__, paths=list(s.paths), what=describe(s, a, plan)) for s in plan.scenarios
        ],
        "targets": plan.targets,
        "skipped": plan.skipped,
        "notes": plan.notes,
        "samples": [],
    }
    interrupted = False
    t_start = time.monotonic()
    lab: Lab | None = None
    try:
        progress.note(
            f"{len(runs)} runs: {len(plan.scenarios)} scenarios x {len(plan.targets)} targets x "
            f"{a.rounds} rounds; work directory {work}"
        )
        lab = Lab(plan, a, work)
        for i, (rnd, sc, target) in enumerate(runs):
            eta = ""
            if i:
                left = (time.monotonic() - t_start) / i * (len(runs) - i)
                eta = (
                    f", about {left / 60:.0f} min left"
                    if left >= 90
                    else f", about {left:.0f}s left"
                )
            progress.line(f"[{i + 1}/{len(runs)}] round {rnd + 1}: {sc.name} → {target}{eta}")
            sample = run_sample(lab, sc, target, rnd)
            result["samples"].append(sample)
            progress.note(
                f"[{i + 1}/{len(runs)}] round {rnd + 1} {sc.name:15} {target:8} {_line(sample)}"
            )
    except KeyboardInterrupt:
        interrupted = True
        progress.note("interrupted: stopping, and writing what was measured")
    finally:
        if lab is not None:
            lab.close()
        if a.keep:
            progress.note(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    result["loadavg_after"] = loadavg()
    result["interrupted"] = interrupted
    result["summary"] = summarize(result["samples"])
    result["ratios"] = ratios(result["samples"])
    stamp = time.strftime("%Y%m%d-%H%M%S")
    paths = {ext: out_dir / f"compare-{stamp}.{ext}" for ext in ("json", "html", "md")}
    paths["json"].write_text(json.dumps(result, indent=2) + "\n")
    paths["html"].write_text(htmlreport.render(result))
    paths["md"].write_text(markdown_report(result))
    print(text_report(result))
    print(f"written: {paths['json']}, {paths['html']}, {paths['md']}")
    if interrupted:
        raise KeyboardInterrupt
    failed = [s for s in result["samples"] if not s["ok"]]
    if result["samples"] and len(failed) == len(result["samples"]):
        print(f"lb-bench compare: every run failed (first: {failed[0]['error']})", file=sys.stderr)
        proxies = all(s.get("error_code") == EXIT_PROXY for s in failed)
        return EXIT_PROXY if proxies else EXIT_FAILED
    if failed:
        print(
            f"lb-bench compare: {len(failed)} of {len(result['samples'])} runs failed",
            file=sys.stderr,
        )
    return 0
