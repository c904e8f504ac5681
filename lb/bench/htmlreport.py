"""The comparison as one self-contained HTML page (pure: the result dict in, text out).

It opens from a file with no network: styles inline, charts as inline SVG, no script.
"""

from __future__ import annotations

from html import escape
from typing import Any

from lb.bench import svg
from lb.bench.summary import HEADLINE, METRICS, PRIMARY, fmt_mmm, fmt_ratio

PAGE_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 24px auto; max-width: 1180px;
       padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0 14px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; font-weight: 600; }
.note { color: #8a4b00; } .err { color: #b00; } .small { font-size: 12px; color: #555; }
code { background: #f4f4f4; padding: 0 3px; }
"""


def _table(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><tr>{head}</tr>{body}</table>"


def _targets_in(result: dict[str, Any], scen: str) -> list[str]:
    per = result["summary"].get(scen, {})
    return [t for t in result["targets"] if t in per]


def _figures(result: dict[str, Any], sc: dict[str, Any]) -> str:
    per = result["summary"].get(sc["name"], {})
    targets = _targets_in(result, sc["name"])
    if not targets:
        return '<p class="err">No successful run.</p>'
    keys = [k for k in HEADLINE[sc["kind"]] if any(k in per[t] for t in targets)]
    rows = [["target"] + [f"{METRICS[k].label} ({METRICS[k].unit})" for k in keys]]
    for t in targets:
        rows.append([t] + [fmt_mmm(per[t][k], k) if k in per[t] else "-" for k in keys])
    out = [_table(rows)]
    rat = result["ratios"].get(sc["name"], {})
    if rat:
        rrows = [["ratio"] + [METRICS[k].label for k in keys]]
        for peer, m in rat.items():
            rrows.append([f"lb/{peer}"] + [fmt_ratio(m[k]) if k in m else "-" for k in keys])
        out.append(_table(rrows))
    return "\n".join(out)


def _bars(result: dict[str, Any], scen: str, key: str) -> str:
    per = result["summary"].get(scen, {})
    bars = []
    for t in _targets_in(result, scen):
        d = per[t].get(key)
        if d is not None:
            bars.append((t, d["median"], d["min"], d["max"]))
    m = METRICS[key]
    return svg.bar_chart(m.label, m.unit, bars)


def _latency(result: dict[str, Any], scen: str) -> str:
    per = result["summary"].get(scen, {})
    groups = ["p50", "p90", "p99", "p99.9"]
    series = []
    for t in _targets_in(result, scen):
        vals: list[float | None] = []
        for g in groups:
            d = per[t].get(f"{g}_ms")
            vals.append(d["median"] if d else None)
        series.append((t, vals))
    return svg.grouped_chart("latency percentiles (medians)", "ms", groups, series, log=True)


def _charts(result: dict[str, Any], sc: dict[str, Any]) -> str:
    name, kind = sc["name"], sc["kind"]
    if kind == "http":
        parts = [_bars(result, name, "rps"), _latency(result, name)]
        parts.append(_bars(result, name, "cpu_us_per_req"))
    elif kind == "tcp":
        parts = [_bars(result, name, "gbit_s"), _bars(result, name, "cpu_s_per_gb")]
    else:
        parts = [_bars(result, name, "pss_kb_per_conn"), _bars(result, name, "rss_kb_per_conn")]
    return "\n".join(p for p in parts if p)


def _overview(result: dict[str, Any]) -> str:
    """The lb/peer ratio of each scenario's primary figure (below 1: lb spends less)."""
    scen = [sc for sc in result["scenarios"] if sc["name"] in result["ratios"]]
    peers = sorted({p for sc in scen for p in result["ratios"][sc["name"]]})
    if not scen or not peers:
        return ""
    series = []
    for p in peers:
        vals: list[float | None] = []
        for sc in scen:
            d = result["ratios"][sc["name"]].get(p, {}).get(PRIMARY[sc["kind"]])
            vals.append(d["median"] if d else None)
        series.append((f"lb/{p}", vals))
    return svg.grouped_chart(
        "lb/peer: CPU per request or GB, memory per connection (below 1: lb spends less)",
        "",
        [sc["name"] for sc in scen],
        series,
        log=True,
        reference=1.0,
    )


def _samples(result: dict[str, Any]) -> str:
    rows = [["scenario", "round", "target", "figures", "errors"]]
    for s in result["samples"]:
        figs = ", ".join(
            f"{METRICS[k].label if k in METRICS else k} {v:.4g}"
            for k, v in s.get("metrics", {}).items()
            if v is not None and k in HEADLINE.get(s.get("kind", ""), ())
        )
        err = s.get("error") or ", ".join(f"{k}: {v}" for k, v in s.get("errors", {}).items())
        rows.append([s["scenario"], str(s["round"]), s["target"], figs, err])
    return _table(rows)


def render(result: dict[str, Any]) -> str:
    env = result.get("environment", {})
    p = result.get("params", {})
    head = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>lb-bench compare</title>",
        f"<style>{PAGE_STYLE}{svg.STYLE}</style></head><body>",
        "<h1>lb against its peers — lb-bench compare</h1>",
        f"<p><code>{escape(result.get('command', ''))}</code><br>",
        f"{escape(result.get('started', ''))} → {escape(result.get('finished', ''))}</p>",
        "<p class=small>"
        + "<br>".join(f"{escape(str(k))}: {escape(str(v))}" for k, v in env.items())
        + "</p>",
        f"<p>{p.get('rounds')} interleaved rounds of {p.get('duration')} s per run; client "
        f"{escape(str(p.get('client')))}; proxies on loopback with the client and the backend "
        "on the same machine. Proxy CPU = utime + stime of every process of the proxy, read "
        "from /proc before and after each run. Figures: median (min-max) over the rounds; "
        "ratios lb/peer are taken round by round, then summarised.</p>",
    ]
    body = []
    if result.get("skipped"):
        body.append("<h2>Skipped</h2><ul>")
        for s in result["skipped"]:
            where = f" ({escape(s['scenario'])})" if s.get("scenario") else ""
            body.append(
                f'<li class="note">{escape(s["target"])}{where}: {escape(s["reason"])}</li>'
            )
        body.append("</ul>")
    for note in result.get("notes", []):
        body.append(f'<p class="note">{escape(note)}</p>')
    overview = _overview(result)
    if overview:
        body.append("<h2>Overview</h2>" + overview)
    for sc in result["scenarios"]:
        body.append(
            f'<h2 id="{escape(sc["name"])}">{escape(sc["name"])}: {escape(sc["title"])}</h2>'
        )
        body.append(f"<p class=small>{escape(sc.get('what', ''))}</p>")
        body.append(_figures(result, sc))
        body.append(_charts(result, sc))
    body.append("<h2>Every run</h2>" + _samples(result))
    return "\n".join(head + body + ["</body></html>"]) + "\n"
