"""Plain-text reports of one ``http`` or ``tcp`` run (pure: a summary dict in, lines out)."""

from __future__ import annotations

from typing import Any

from lb.bench.units import fmt_bytes, fmt_duration


def _kinds(d: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in d.items()) or "none"


def http_text(title: str, s: dict[str, Any]) -> str:
    lat = s["latency_s"]
    lines = [title]
    lines.append(
        f"  requests    {s['requests']} in {s['seconds']:.2f}s = {s['requests_per_s']:.1f} req/s"
    )
    if s["requests"]:
        lines.append(
            "  latency     "
            + "  ".join(f"{k} {fmt_duration(lat[k])}" for k in ("p50", "p90", "p99", "p99.9"))
            + f"  max {fmt_duration(lat['max'])}  mean {fmt_duration(lat['mean'])}"
        )
    lines.append(f"  statuses    {_kinds(s['statuses'])}")
    lines.append(f"  errors      {_kinds(s['errors'])}")
    if s["requests"]:
        each = (
            f"{s['body_min']} B each"
            if s["body_min"] == s["body_max"]
            else f"{s['body_min']}-{s['body_max']} B"
        )
        lines.append(f"  body        {fmt_bytes(s['body_bytes'])} ({each})")
    rate = s.get("target_rate")
    if rate and s["requests_per_s"] < 0.95 * rate:
        lines.append(
            f"  rate        {s['requests_per_s']:.1f} of {rate:g} req/s: the target held requests "
            "back (their latency counts from when they were due)"
        )
    if s.get("unfinished"):
        lines.append(f"  unfinished  {s['unfinished']} (in flight or due when the time was up)")
    lines.append(
        f"  client CPU  {s['client_cpu_s']:.2f}s = "
        f"{s['client_cpu_us_per_request']:.1f} µs/request ({s['processes']} processes)"
    )
    return "\n".join(lines)


def tcp_text(title: str, s: dict[str, Any]) -> str:
    lines = [title]
    lines.append(
        f"  moved       {fmt_bytes(s['bytes'])} in {s['seconds']:.2f}s = {s['gbit_s']:.2f} Gbit/s"
        f" ({s['direction']}, {s['streams_ok']}/{s['streams']} streams ok)"
    )
    lines.append(f"  errors      {_kinds(s['errors'])}")
    lines.append(
        f"  client CPU  {s['client_cpu_s']:.2f}s = {s['client_cpu_s_per_gb']:.3f} s/GB "
        f"({s['processes']} processes)"
    )
    return "\n".join(lines)
