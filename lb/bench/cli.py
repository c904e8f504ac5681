"""The ``lb-bench`` command: ``serve``, ``http``, ``tcp`` and ``compare``.

Every failure ends as one line on stderr and an exit code (lb.bench.errors), never as a
traceback; ``LB_BENCH_DEBUG=1`` shows the traceback of an unexpected one.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from lb.bench.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, BenchError
from lb.bench.units import parse_count, parse_duration, parse_size

PROG = "lb-bench"


def _arg(parse: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = what  # argparse names the type in its messages
    return convert


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"not an integer: {text!r}") from None


def _positive_int(text: str) -> int:
    n = _int(text)
    if n < 1:
        raise ValueError(f"must be at least 1: {text}")
    return n


def _positive_float(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None
    if x <= 0:
        raise ValueError(f"must be positive: {text}")
    return x


def _port(text: str) -> int:
    n = _int(text)
    if not 0 <= n < 65536:
        raise ValueError(f"not a port: {text}")
    return n


def _positive_duration(text: str) -> float:
    d = parse_duration(text)
    if d <= 0:
        raise ValueError(f"must be positive: {text}")
    return d


INT = _arg(_positive_int, "integer")
COUNT = _arg(parse_count, "count")
RATE = _arg(_positive_float, "rate")
PORT = _arg(_port, "port")
DURATION = _arg(_positive_duration, "duration")
SIZE = _arg(parse_size, "size")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Benchmark lb and its peers: test backends, HTTP and TCP load, comparisons.",
        epilog="See docs/lb-bench.md. Exit codes: 0 ok, 1 failed, 2 usage, 3 target "
        "unreachable, 4 peer or client missing, 5 proxy would not start, 130 interrupted.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser(
        "serve",
        help="test backends: HTTP (size, status, delay by query) and TCP source/sink",
        description="Serve HTTP (/?s=20k&r=404&t=5ms&c=1&k=0) and TCP (U: sink, D: source). "
        "Without --http/--tcp both run on ports the kernel picks; the first line on stdout "
        "says where.",
    )
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    s.add_argument("--http", type=PORT, metavar="PORT", help="HTTP port (0: any free port)")
    s.add_argument("--tcp", type=PORT, metavar="PORT", help="TCP source/sink port (0: any)")
    s.add_argument("--workers", type=INT, default=1, metavar="N", help="processes (1)")

    h = sub.add_parser(
        "http",
        help="HTTP load: keep-alive or close, pipelining, fixed rate, several processes",
        description="HTTP/1.1 load against URL (several URLs: requests rotate through them; "
        "same host and port). Latency percentiles, statuses, errors by kind, own CPU.",
    )
    h.add_argument("urls", nargs="+", metavar="URL")
    h.add_argument("-c", "--connections", type=INT, default=10, metavar="N", help="(10)")
    g = h.add_mutually_exclusive_group()
    g.add_argument("-d", "--duration", type=DURATION, metavar="TIME", help="run time (10s)")
    g.add_argument("-n", "--requests", type=COUNT, metavar="N", help="stop after N requests")
    h.add_argument("--close", action="store_true", help="a new connection per request")
    h.add_argument("--pipeline", type=INT, default=1, metavar="DEPTH", help="requests in flight")
    h.add_argument("-p", "--processes", type=INT, default=1, metavar="N", help="processes (1)")
    h.add_argument(
        "--rate", type=RATE, metavar="R", help="fixed rate, requests/s in total (open loop)"
    )
    h.add_argument("--timeout", type=DURATION, default=5.0, metavar="TIME", help="(5s)")
    h.add_argument("-H", "--header", action="append", default=[], metavar="'NAME: VALUE'")
    h.add_argument("-m", "--method", default="GET", help="GET (default) or HEAD")
    h.add_argument("--json", action="store_true", help="the result as JSON on stdout")
    h.add_argument("-q", "--quiet", action="store_true", help="no progress lines")

    t = sub.add_parser(
        "tcp",
        help="bulk TCP streams (Gbit/s) to a serve TCP port, directly or through a proxy",
        description="Bulk streams to HOST:PORT, which must lead to an `lb-bench serve --tcp` "
        "port: up (sendfile; the receiver acknowledges every byte) or down (splice).",
    )
    t.add_argument("target", metavar="HOST:PORT")
    t.add_argument("-s", "--streams", type=INT, default=4, metavar="N", help="(4)")
    t.add_argument("-d", "--duration", type=DURATION, default=10.0, metavar="TIME", help="(10s)")
    t.add_argument("--direction", choices=("up", "down"), default="up", help="(up)")
    t.add_argument("-p", "--processes", type=INT, metavar="N", help="(one per stream, ≤ CPUs)")
    t.add_argument("--timeout", type=DURATION, default=5.0, metavar="TIME", help="(5s)")
    t.add_argument("--json", action="store_true", help="the result as JSON on stdout")

    c = sub.add_parser(
        "compare",
        help="lb against HAProxy and nginx: a scenario matrix, interleaved rounds, JSON + HTML",
        description="Run scenarios against lb and the peers installed here (HAProxy, nginx), "
        "in interleaved rounds on this machine; report client figures, the proxy's own CPU "
        "per request or per GB, memory per idle connection, and lb/peer ratios.",
    )
    c.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="repeatable or comma-separated; default: all (see --list)",
    )
    c.add_argument(
        "--scenario-file",
        action="append",
        default=[],
        metavar="FILE",
        help="more scenarios from a TOML file (see bench/scenarios/extra.toml); repeatable",
    )
    c.add_argument("--list", action="store_true", help="list the scenarios and exit")
    c.add_argument("--rounds", type=INT, default=3, metavar="N", help="(3)")
    c.add_argument("--duration", type=DURATION, default=10.0, metavar="TIME", help="per run (10s)")
    c.add_argument(
        "--targets",
        metavar="LIST",
        help="comma-separated from lb, haproxy, nginx, direct; default: lb and every peer "
        "installed (naming a missing one is an error)",
    )
    c.add_argument("--out", metavar="DIR", default="lb-bench-out", help="(./lb-bench-out)")
    c.add_argument("--client", choices=("lb-bench", "wrk"), default="lb-bench")
    c.add_argument("--connections", type=INT, default=50, metavar="N", help="HTTP (50)")
    c.add_argument("--client-processes", type=INT, default=1, metavar="N", help="(1)")
    c.add_argument("--streams", type=INT, default=4, metavar="N", help="TCP streams (4)")
    c.add_argument("--idle-connections", type=COUNT, default=10000, metavar="N", help="(10000)")
    c.add_argument("--lb-workers", type=INT, default=1, metavar="N", help="lb -n N (1)")
    c.add_argument("--backend-workers", type=INT, default=1, metavar="N", help="(1)")
    c.add_argument("--seed-config", metavar="FILE", help="the seed's HAProxy file")
    c.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs)")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    return p


# --------------------------------------------------------------------------------- commands


def cmd_serve(a: argparse.Namespace) -> int:
    from lb.bench.serve import run

    try:
        return run(a.host, a.http, a.tcp, a.workers)
    except OSError as e:
        raise BenchError(f"cannot listen on {a.host}: {e.strerror or e}") from None


def cmd_http(a: argparse.Namespace) -> int:
    from lb.bench.httprun import HttpSpec, run_http
    from lb.bench.progress import Progress
    from lb.bench.report import http_text

    if a.close and a.pipeline > 1:
        raise BenchError("--pipeline needs keep-alive: it cannot go with --close", EXIT_USAGE)
    if a.method.upper() not in ("GET", "HEAD"):
        raise BenchError("--method: GET or HEAD (lb-bench sends no request bodies)", EXIT_USAGE)
    duration = None if a.requests else (a.duration or 10.0)
    spec = HttpSpec(
        urls=a.urls,
        connections=a.connections,
        duration=duration,
        count=a.requests,
        close=a.close,
        pipeline=a.pipeline,
        processes=a.processes,
        rate=a.rate,
        timeout=a.timeout,
        method=a.method.upper(),
        headers=a.header,
    )
    long_run = duration is None or duration >= 3
    progress = Progress(enabled=not a.quiet and long_run)
    result = run_http(spec, progress.requests if progress.enabled else None)
    progress.done()
    summary = result.summary()
    if a.json:
        json.dump({"spec": spec.__dict__, "result": summary}, sys.stdout, indent=2)
        print()
    else:
        mode = "close" if a.close else "keep-alive"
        if a.pipeline > 1:
            mode += f", pipeline {a.pipeline}"
        if a.rate:
            mode += f", {a.rate:g} req/s fixed rate"
        run_len = f"{a.requests} requests" if a.requests else f"{duration:g}s"
        print(
            http_text(
                f"{' '.join(a.urls)}: {a.connections} connections, {result.processes} "
                f"process{'es' if result.processes > 1 else ''}, {run_len}, {mode}",
                summary,
            )
        )
    if result.counts.responses == 0 and result.errors:
        print(f"{PROG}: no request succeeded", file=sys.stderr)
        return EXIT_FAILED
    return 0


def cmd_tcp(a: argparse.Namespace) -> int:
    from lb.bench.report import tcp_text
    from lb.bench.tcprun import TcpSpec, parse_hostport, run_tcp

    try:
        host, port = parse_hostport(a.target)
    except ValueError as e:
        raise BenchError(str(e), EXIT_USAGE) from None
    spec = TcpSpec(host, port, a.streams, a.duration, a.direction, a.processes, a.timeout)
    result = run_tcp(spec)
    summary = result.summary()
    if a.json:
        json.dump({"spec": spec.__dict__, "result": summary}, sys.stdout, indent=2)
        print()
    else:
        print(tcp_text(f"{a.target}: {a.streams} streams, {a.duration:g}s", summary))
    if result.counts.bytes == 0 or result.errors:
        print(f"{PROG}: {result.errors} of {a.streams} streams failed", file=sys.stderr)
        return EXIT_FAILED
    return 0


def cmd_compare(a: argparse.Namespace) -> int:
    from lb.bench.compare import run_compare

    return run_compare(a)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": cmd_serve,
    "http": cmd_http,
    "tcp": cmd_tcp,
    "compare": cmd_compare,
}


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C, so that generators and proxies started are stopped
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    if args.command != "serve":  # serve handles its own signals
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return COMMANDS[args.command](args)
    except BenchError as e:
        print(f"{PROG} {args.command}: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILED  # stdout went away (| head): nothing to say to anyone
    except Exception as e:
        if os.environ.get("LB_BENCH_DEBUG"):
            traceback.print_exc()
        print(
            f"{PROG} {args.command}: internal error: {type(e).__name__}: {e} "
            "(LB_BENCH_DEBUG=1 shows where)",
            file=sys.stderr,
        )
        return EXIT_FAILED
