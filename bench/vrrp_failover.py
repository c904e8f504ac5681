#!/usr/bin/env python3
"""VRRP failover time: lb against keepalived, same namespaces, interleaved runs.

    sudo .venv/bin/python bench/vrrp_failover.py [--runs 50] [--runs-v2-kill 20]

Two hosts (network namespaces on a bridge). An lb pair (VRID 51, VIP .249) and a keepalived
pair (VRID 52, VIP .250) run side by side on the same two hosts, both at priority 100 (equal
priorities: a restarted node stays BACKUP, so no failback is needed between runs). A run
signals the current master (SIGKILL = hard kill: lb's master, keepalived's VRRP child then
its parent; SIGTERM = clean stop) after a random fraction of an advert interval, and
measures until the backup's VIP appears: the time of ``time.monotonic()`` just before
``kill()``, to the monotonic time at which an rtnetlink watcher in the backup's namespace
read the RTM_NEWADDR (a thread blocked on the socket). The killed node is then restarted and
becomes the backup. lb and keepalived runs alternate.

Scenarios: VRRPv2 advert_int 1 s and VRRPv3 advert_int 0.1 s, each with a hard kill and a
clean stop. A v2 hard kill lasts at least 3 advert intervals (2.6-3.6 s) plus a restart, so
its run count is set separately.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.netns import Lan  # noqa: E402
from tests.support.vrrp_nodes import (  # noqa: E402
    KeepalivedNode,
    LbNode,
    Node,
    VipWatcher,
    drop_vip,
    has_vip,
    instance,
    keepalived_conf,
)

SCENARIOS = {
    "v2 1s": dict(version=2, advert_int=1.0, auth_pass="bench"),
    "v3 0.1s": dict(version=3, advert_int=0.1),
}
IMPLS = {"lb": (LbNode, 51, "192.168.22.249"), "keepalived": (KeepalivedNode, 52, "192.168.22.250")}


class Pair:
    def __init__(self, impl: str, lan: Lan, options: dict[str, object]) -> None:
        cls, vrid, vip = IMPLS[impl]
        self.impl, self.vip = impl, vip
        self.adv = float(options["advert_int"])  # type: ignore[arg-type]
        conf = keepalived_conf(instance(priority=100, vrid=vrid, vips=(f"{vip}/24",), **options))
        self.nodes: list[Node] = [cls(h) for h in lan.hosts[:2]]
        self.watchers = [VipWatcher(h) for h in lan.hosts[:2]]
        for n in self.nodes:
            n.start(conf)  # type: ignore[attr-defined]
        self.master = self._wait_master(3 * self.adv + 3)

    def _wait_master(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            held = [i for i, n in enumerate(self.nodes) if has_vip(n.host, self.vip)]
            if len(held) == 1:
                return held[0]
            time.sleep(0.05)
        raise RuntimeError(f"{self.impl}: no single master ({held})")

    def run(self, kind: str) -> float:
        m, b = self.master, 1 - self.master
        node = self.nodes[m]
        time.sleep(random.uniform(0, self.adv))  # anywhere in the advert cycle
        t0 = node.hard_kill() if kind == "kill" else node.signal(signal.SIGTERM)
        t1 = self.watchers[b].wait(self.vip, True, t0, 3 * self.adv + 3)
        if kind == "kill":
            drop_vip(node.host, self.vip)  # the dead machine's address goes with it
        else:
            node.wait_exit()
        node.start()  # type: ignore[attr-defined]
        time.sleep(1.2 * self.adv + 0.1)  # it has heard the new master: a settled backup
        if has_vip(node.host, self.vip) or not has_vip(self.nodes[b].host, self.vip):
            raise RuntimeError(f"{self.impl}: the restarted node took the VIP back")
        self.master = b
        return t1 - t0

    def close(self) -> None:
        for w in self.watchers:
            w.close()
        for n in self.nodes:
            n.cleanup()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--runs-v2-kill", type=int, default=20)
    ap.add_argument("--scenario", action="append", choices=list(SCENARIOS))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    random.seed(args.seed)
    results: dict[tuple[str, str, str], list[float]] = {}
    with Lan(hosts=2, ipv6=False) as lan:
        for scen in args.scenario or list(SCENARIOS):
            pairs = {impl: Pair(impl, lan, SCENARIOS[scen]) for impl in IMPLS}
            try:
                for kind in ("kill", "term"):
                    n = (
                        args.runs_v2_kill
                        if (scen.startswith("v2") and kind == "kill")
                        else args.runs
                    )
                    for i in range(n):
                        for impl in IMPLS if i % 2 == 0 else reversed(list(IMPLS)):
                            t = pairs[impl].run(kind)
                            results.setdefault((scen, kind, impl), []).append(t)
                        print(f"{scen} {kind} run {i + 1}/{n}", file=sys.stderr, end="\r")
            finally:
                for p in pairs.values():
                    p.close()
    lines = [
        "| scenario | stop | daemon | runs | p50 ms | p99 ms | min ms | max ms | mean ms |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    names = {"kill": "SIGKILL (hard)", "term": "SIGTERM (clean)"}
    for (scen, kind, impl), vals in results.items():
        ms = [v * 1000 for v in vals]
        lines.append(
            f"| {scen} | {names[kind]} | {impl} | {len(ms)} | {pct(ms, 50):.0f} | "
            f"{pct(ms, 99):.0f} | {min(ms):.0f} | {max(ms):.0f} | {statistics.mean(ms):.0f} |"
        )
    print()
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Linux {platform.release()}, Python {platform.python_version()}"
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
