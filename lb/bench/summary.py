"""From the samples of a comparison to its figures (pure): per scenario and target the
min/median/max of each metric over the rounds, and the lb/peer ratios.

A ratio is taken per round — lb's figure over the peer's figure measured in the same round,
next to each other in time — and then summarised as min/median/max: machine noise that
hits both in a round cancels out, noise between rounds shows as the spread.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    better: str  # "higher" or "lower"
    digits: int = 1


METRICS: dict[str, Metric] = {
    m.key: m
    for m in (
        Metric("rps", "throughput", "req/s", "higher", 0),
        Metric("p50_ms", "latency p50", "ms", "lower", 3),
        Metric("p90_ms", "latency p90", "ms", "lower", 3),
        Metric("p99_ms", "latency p99", "ms", "lower", 3),
        Metric("p99.9_ms", "latency p99.9", "ms", "lower", 3),
        Metric("cpu_us_per_req", "proxy CPU per request", "µs", "lower", 1),
        Metric("gbit_s", "throughput", "Gbit/s", "higher", 2),
        Metric("cpu_s_per_gb", "proxy CPU per GB", "s", "lower", 3),
        Metric("cores_10g", "cores for 10 Gbit/s", "extrapolated", "lower", 2),
        Metric("pss_kb_per_conn", "memory per idle connection (PSS)", "kB", "lower", 1),
        Metric("rss_kb_per_conn", "memory per idle connection (RSS)", "kB", "lower", 1),
        Metric("client_cpu_us_per_req", "client CPU per request", "µs", "lower", 1),
    )
}

# The figures each kind of scenario is judged by, headline first.
HEADLINE = {
    "http": ("rps", "p50_ms", "p99_ms", "p99.9_ms", "cpu_us_per_req"),
    "tcp": ("gbit_s", "cpu_s_per_gb", "cores_10g"),
    "idle": ("pss_kb_per_conn", "rss_kb_per_conn"),
}
PRIMARY = {"http": "cpu_us_per_req", "tcp": "cpu_s_per_gb", "idle": "pss_kb_per_conn"}


def mmm(xs: list[float]) -> dict[str, float]:
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs), "n": len(xs)}


def summarize(samples: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """{scenario: {target: {metric: mmm}}} over the successful samples."""
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    grouped: dict[tuple[str, str], dict[str, list[float]]] = {}
    for s in samples:
        if not s.get("ok"):
            continue
        g = grouped.setdefault((s["scenario"], s["target"]), {})
        for k, v in s["metrics"].items():
            if v is not None:
                g.setdefault(k, []).append(float(v))
    for (scen, target), metrics in grouped.items():
        out.setdefault(scen, {})[target] = {k: mmm(v) for k, v in metrics.items() if v}
    return out


def ratios(
    samples: list[dict[str, Any]], base: str = "lb"
) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """{scenario: {peer: {metric: mmm of per-round base/peer}}}; rounds where either side
    failed, or the peer's figure is zero, are left out."""
    by: dict[tuple[str, str, int], dict[str, Any]] = {}
    for s in samples:
        if s.get("ok"):
            by[(s["scenario"], s["target"], s["round"])] = s
    acc: dict[tuple[str, str, str], list[float]] = {}
    for (scen, target, rnd), s in by.items():
        if target == base:
            continue
        mine = by.get((scen, base, rnd))
        if mine is None:
            continue
        for k, v in s["metrics"].items():
            b = mine["metrics"].get(k)
            if v and b is not None:
                acc.setdefault((scen, target, k), []).append(b / v)
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for (scen, peer, k), xs in acc.items():
        out.setdefault(scen, {}).setdefault(peer, {})[k] = mmm(xs)
    return out


def fmt(value: float, metric: str) -> str:
    m = METRICS.get(metric)
    digits = m.digits if m else 2
    return f"{value:.{digits}f}"


def fmt_mmm(d: dict[str, float], metric: str) -> str:
    """``median (min-max)``; just the value when there was one round."""
    if d["n"] == 1 or d["min"] == d["max"]:
        return fmt(d["median"], metric)
    return f"{fmt(d['median'], metric)} ({fmt(d['min'], metric)}-{fmt(d['max'], metric)})"


def fmt_ratio(d: dict[str, float]) -> str:
    if d["n"] == 1 or d["min"] == d["max"]:
        return f"x{d['median']:.2f}"
    return f"x{d['median']:.2f} ({d['min']:.2f}-{d['max']:.2f})"


def table_rows(
    scenario_kind: str,
    per_target: dict[str, dict[str, dict[str, float]]],
    targets: list[str],
) -> list[list[str]]:
    """Header + one row per target: the scenario's headline metrics as median (min-max)."""
    keys = [k for k in HEADLINE[scenario_kind] if any(k in per_target.get(t, {}) for t in targets)]
    head = ["target"] + [f"{METRICS[k].label} ({METRICS[k].unit})" for k in keys]
    rows = [head]
    for t in targets:
        if t not in per_target:
            continue
        rows.append(
            [t] + [fmt_mmm(per_target[t][k], k) if k in per_target[t] else "-" for k in keys]
        )
    return rows


def ratio_rows(
    scenario_kind: str, per_peer: dict[str, dict[str, dict[str, float]]], base: str = "lb"
) -> list[list[str]]:
    keys = [k for k in HEADLINE[scenario_kind] if any(k in v for v in per_peer.values())]
    rows = [[f"{base}/peer"] + [METRICS[k].label for k in keys]]
    for peer, metrics in per_peer.items():
        rows.append(
            [f"{base}/{peer}"] + [fmt_ratio(metrics[k]) if k in metrics else "-" for k in keys]
        )
    return rows


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )


def markdown_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(rows[0]) + " |", "|---|" + "---:|" * (len(rows[0]) - 1)]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out)
