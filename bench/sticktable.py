#!/usr/bin/env python3
"""Stick tables: what they cost in-process, and per request under wrk.

    .venv/bin/python bench/sticktable.py [--micro-only] [--rounds 3] [--duration 8]
                                         [--connections 50]

1. In-process (one Python process, the shared table over a memfd, native atomics):
   lookups of a present key, lookup-or-insert of new keys, one tracked request as the HTTP
   session runs it (track-sc0 + the deny rule's sc_http_req_rate(0) + the request's end),
   and the same request's http-request rules without the two stick-table lines.
2. Under wrk (bench/http_small.py's harness: wrk → proxy → nginx, keep-alive, 1 worker /
   ``nbthread 1``): the proxy's CPU per request with no rule, with one http-request rule
   that never matches (what having request rules costs by itself), and with the issue's
   rate-limit rules (``stick-table … store http_req_rate(10s)``, ``http-request
   track-sc0 src``, ``http-request deny deny_status 429 if { sc_http_req_rate(0) gt N }``
   with N high enough that nothing is denied), for lb and HAProxy.
"""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lb.acl import HttpTxn, ProxyRules, StaticRuntime, compile_config  # noqa: E402
from lb.config.model import Config, Proxy, RuleLine, Source, StickStore, StickTable  # noqa: E402
from lb.sticktable.layout import TableLayout, layout_for  # noqa: E402
from lb.sticktable.table import StickTable as SharedTable  # noqa: E402
from lb.sticktable.table import now_ms  # noqa: E402

PLAIN_RULE = """
    http-request deny if {{ path /never }}"""
DENY_WORDS = "deny deny_status 429 if { sc_http_req_rate(0) gt 1000000000 }"
RATE_RULES = """
    stick-table type ip size 100k expire 30s store http_req_rate(10s)
    http-request track-sc0 src
    http-request deny deny_status 429 if {{ sc_http_req_rate(0) gt {limit} }}"""


def per_op(fn: Callable[[], object], n: int) -> float:
    """µs per call, best of 5 runs of n calls."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def micro() -> list[tuple[str, float]]:
    lay = TableLayout.build("ip", 0, 102400, [("http_req_rate", 10_000), ("conn_cur", 0)], 30_000)
    table = SharedTable.create("fe", lay)
    key = table.key_of(ipaddress.ip_address("10.0.0.1"))
    assert key is not None
    now = now_ms()
    base = table.get(key, now)
    out = [("find (present key)", per_op(lambda: table.find(key[0]), 200_000))]
    out.append(("get (present key, touch)", per_op(lambda: table.get(key, now), 200_000)))
    counter = iter(range(10**9))

    def insert() -> None:
        i = next(counter)
        table.get(table.key_of(ipaddress.ip_address(0x0B000000 + i)), now)  # type: ignore[arg-type]

    out.append(("get (new key: insert)", per_op(insert, 10_000)))
    out.append(("rate update (CAS)", per_op(lambda: table.request(base, now), 200_000)))
    out.append(("rate read", per_op(lambda: table.load(base, "http_req_rate", now), 200_000)))
    table.close()

    # one request through the proxy's compiled http-request rules, with and without tracking
    src = Source("bench", 1)

    def config(with_table: bool) -> Config:
        rules = [RuleLine(["set-header", "x-a", "b"], src)]
        proxy = Proxy(name="fe", kind="frontend", source=src, mode="http", http_request=rules)
        if with_table:
            proxy.stick_table = StickTable(
                "ip", 102400, src, expire=30_000, store=[StickStore("http_req_rate", 10_000)]
            )
            proxy.http_request = [
                RuleLine(["track-sc0", "src"], src),
                RuleLine(DENY_WORDS.split(), src),
                *rules,
            ]
        return Config(proxies=[proxy])

    for label, with_table in (("plain rules", False), ("rate-limit rules", True)):
        cfg = config(with_table)
        fe = compile_config(cfg).frontends["fe"]
        rt = StaticRuntime()
        if with_table:
            spec = cfg.proxies[0].stick_table
            assert spec is not None
            rt.stick_tables["fe"] = SharedTable.create("fe", layout_for(spec))

        def request(fe: ProxyRules = fe, rt: StaticRuntime = rt) -> None:
            txn = HttpTxn(b"GET", b"/", "1.1", [(b"Host", b"x")], "10.0.0.7", 5555)
            fe.http_request(txn, rt)
            if txn.sc is not None:
                txn.sc.request_done(200)

        out.append((f"one request, {label} (txn + rules + end)", per_op(request, 50_000)))
        for t in rt.stick_tables.values():
            t.close()
    return out


def load_http_small() -> object:
    spec = importlib.util.spec_from_file_location("http_small", ROOT / "bench/http_small.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["http_small"] = module  # (its dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


def under_wrk(args: argparse.Namespace) -> dict[str, list[float]]:
    hs = load_http_small()
    work = Path(tempfile.mkdtemp(prefix="sticktable-bench-"))
    work.chmod(0o755)
    results: dict[str, list[float]] = {}
    started = []
    try:
        backend = hs.start_backend(work / "backend")  # type: ignore[attr-defined]
        started.append(backend)
        live = {}
        for rules in ("none", "plain-rule", "rate-limit"):
            text = {"none": "", "plain-rule": PLAIN_RULE, "rate-limit": RATE_RULES}[rules]
            hs.RULES["frontend"] = text.format(limit=10**9)  # type: ignore[attr-defined]
            for proxy in ("lb", "haproxy"):
                start = hs.start_lb if proxy == "lb" else hs.start_haproxy  # type: ignore[attr-defined]
                t = start(work / f"{proxy}-{rules}", backend.port)
                started.append(t)
                live[f"{proxy} {rules}"] = t
        for rnd in range(args.rounds):
            names = list(live) if rnd % 2 == 0 else list(reversed(live))
            for name in names:
                s = hs.run_wrk(live[name], backend, "keepalive", rnd, args)  # type: ignore[attr-defined]
                results.setdefault(name, []).append(s.cpu_us_per_req)
                results.setdefault(name + " rps", []).append(s.rps)
                print(
                    f"round {rnd} {name:20} {s.rps:8.0f} req/s  {s.cpu_us_per_req:6.1f} µs/req"
                    f"  non-2xx {s.non_2xx}",
                    flush=True,
                )
    finally:
        for t in reversed(started):
            t.stop()
        shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--micro-only", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    print("| in-process operation | µs |\n|---|---:|")
    for label, us in micro():
        print(f"| {label} | {us:.2f} |")
    if args.micro_only:
        return 0
    results = under_wrk(args)
    print("\n| target | req/s (median) | proxy CPU µs/request min | median | max |")
    print("|---|---:|---:|---:|---:|")
    for name, values in results.items():
        if name.endswith(" rps"):
            continue
        rps = statistics.median(results[name + " rps"])
        print(
            f"| {name} | {rps:.0f} | {min(values):.1f} | {statistics.median(values):.1f} "
            f"| {max(values):.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
