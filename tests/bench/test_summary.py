"""From samples to figures, ratios, tables and the self-contained HTML page (all pure)."""

import re

import pytest

from lb.bench import htmlreport, svg
from lb.bench.summary import (
    fmt_mmm,
    fmt_ratio,
    markdown_table,
    mmm,
    ratio_rows,
    ratios,
    summarize,
    table_rows,
    text_table,
)


def sample(target: str, rnd: int, rps: float, cpu: float, ok: bool = True) -> dict:
    return {
        "scenario": "ka",
        "kind": "http",
        "target": target,
        "round": rnd,
        "ok": ok,
        "metrics": {"rps": rps, "p99_ms": 2.0, "cpu_us_per_req": cpu, "p99.9_ms": None},
    }


SAMPLES = [
    sample("lb", 0, 100, 40),
    sample("haproxy", 0, 200, 20),
    sample("lb", 1, 120, 30),
    sample("haproxy", 1, 150, 20),
    sample("lb", 2, 90, 45),
    sample("haproxy", 2, 300, 15),
    sample("haproxy", 3, 999, 1, ok=True),  # no lb in round 3: no ratio from it
    sample("lb", 4, 1, 1, ok=False),  # failed: counts nowhere
    sample("haproxy", 4, 100, 10),
]


@pytest.mark.parametrize(
    ("xs", "expected"),
    [([3.0], (3, 3, 3)), ([1.0, 5.0, 2.0], (1, 2, 5)), ([4.0, 1.0, 3.0, 2.0], (1, 2.5, 4))],
)
def test_mmm(xs: list[float], expected: tuple[float, float, float]) -> None:
    d = mmm(xs)
    assert (d["min"], d["median"], d["max"], d["n"]) == (*expected, len(xs))


def test_summarize_skips_failures_and_missing_figures() -> None:
    s = summarize(SAMPLES)
    lb = s["ka"]["lb"]
    assert lb["rps"] == {"min": 90, "median": 100, "max": 120, "n": 3}
    assert "p99.9_ms" not in lb
    assert s["ka"]["haproxy"]["rps"]["n"] == 5


def test_ratios_are_per_round_then_summarised() -> None:
    r = ratios(SAMPLES)["ka"]["haproxy"]
    # rounds 0, 1, 2 only: 100/200, 120/150, 90/300
    assert r["rps"]["n"] == 3
    assert r["rps"]["min"] == pytest.approx(0.3)
    assert r["rps"]["median"] == pytest.approx(0.5)
    assert r["rps"]["max"] == pytest.approx(0.8)
    assert r["cpu_us_per_req"]["median"] == pytest.approx(2.0)  # 40/20, 30/20=1.5, 45/15=3


def test_formatting() -> None:
    assert fmt_mmm({"min": 1, "median": 2, "max": 3, "n": 3}, "rps") == "2 (1-3)"
    assert fmt_mmm({"min": 2, "median": 2, "max": 2, "n": 1}, "p99_ms") == "2.000"
    assert fmt_ratio({"min": 0.5, "median": 0.75, "max": 1.0, "n": 3}) == "x0.75 (0.50-1.00)"


def test_tables() -> None:
    s = summarize(SAMPLES)["ka"]
    rows = table_rows("http", s, ["lb", "haproxy", "nginx"])
    assert rows[0][0] == "target" and [r[0] for r in rows[1:]] == ["lb", "haproxy"]
    assert "latency p99.9 (ms)" not in rows[0]  # no target has it
    text = text_table(rows)
    assert text.splitlines()[1].startswith("lb ")
    md = markdown_table(ratio_rows("http", ratios(SAMPLES)["ka"]))
    assert md.splitlines()[1] == "|---|---:|---:|---:|"
    assert "| lb/haproxy | x0.50 (0.30-0.80) |" in md


def test_nice_steps() -> None:
    assert svg.nice_step(10) == 2
    assert svg.nice_step(0.7) == 0.2
    assert svg.nice_step(43000) == 10000
    assert svg.nice_step(0) == 1.0


def result_doc() -> dict:
    return {
        "command": "lb-bench compare --rounds 5",
        "started": "2026-11-21T10:00:00",
        "finished": "2026-11-21T10:10:00",
        "environment": {"cpu": "Test CPU <&>", "cores": 2},
        "params": {"rounds": 5, "duration": 10, "client": "lb-bench"},
        "scenarios": [{"name": "ka", "title": "keep-alive", "kind": "http", "what": "w"}],
        "targets": ["lb", "haproxy"],
        "skipped": [{"target": "nginx", "scenario": None, "reason": "not installed"}],
        "samples": SAMPLES,
        "summary": summarize(SAMPLES),
        "ratios": ratios(SAMPLES),
    }


def assert_self_contained(page: str) -> None:
    """Nothing to fetch: no script, style sheet, image or font from anywhere."""
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b", page)
    assert not re.search(r"(src|href)\s*=", page)
    assert "@import" not in page and "url(" not in page


def test_html_is_self_contained() -> None:
    page = htmlreport.render(result_doc())
    assert page.startswith("<!doctype html>")
    assert page.count("<svg") >= 4  # throughput, latency, CPU, overview
    assert_self_contained(page)
    assert "Test CPU &lt;&amp;&gt;" in page  # escaped
    assert "nginx" in page and "not installed" in page


def test_html_without_any_success() -> None:
    doc = result_doc()
    doc["samples"] = [sample("lb", 0, 1, 1, ok=False)]
    doc["summary"], doc["ratios"] = summarize(doc["samples"]), ratios(doc["samples"])
    page = htmlreport.render(doc)
    assert "No successful run" in page


def test_ratio_bars_grow_from_the_reference_line() -> None:
    chart = svg.grouped_chart("r", "", ["a", "b"], [("lb/haproxy", [0.5, 2.0])], reference=1.0)
    rects = [
        (float(m.group(1)), float(m.group(2)))
        for m in re.finditer(
            r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', chart
        )
    ]
    ref_y = float(re.search(r'y1="([\d.]+)" y2="[\d.]+" class="r"', chart).group(1))  # type: ignore[union-attr]
    below, above = rects[0], rects[1]
    assert below[0] == pytest.approx(ref_y)  # hangs down from 1.0
    assert above[0] + above[1] == pytest.approx(ref_y)  # stands up to 1.0
    assert svg.color("lb/haproxy") == svg.color("haproxy")
