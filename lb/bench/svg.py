"""Bar charts as inline SVG text (pure): no script, no font or style sheet from anywhere else.

Bars show medians; a whisker spans min to max over the rounds. Latency charts use a log
scale, since percentiles of one run span several decades.
"""

from __future__ import annotations

import math
from html import escape

COLORS = {"lb": "#1f6fb4", "haproxy": "#2b9a3b", "nginx": "#e07b12", "direct": "#8a8a8a"}
OTHER = ("#9467bd", "#8c564b", "#e377c2", "#17becf")

W, H = 560, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 30, 44


def color(name: str, i: int = 0) -> str:
    """A target's colour; a ratio such as ``lb/haproxy`` takes the peer's."""
    return COLORS.get(name.rsplit("/", 1)[-1], OTHER[i % len(OTHER)])


def nice_step(span: float, ticks: int = 5) -> float:
    """A 1/2/5 x 10^k step giving about ``ticks`` intervals over span."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _fmt_tick(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}".replace(",", " ")
    if abs(v) >= 1:
        return f"{v:g}"
    return f"{v:.3g}"


class _Axis:
    """Maps values to y pixels, linear from 0 or logarithmic over whole decades."""

    def __init__(self, vmax: float, vmin_pos: float, log: bool) -> None:
        self.log = log and vmin_pos > 0
        top = H - BOTTOM
        self.y0, self.y1 = top, TOP
        if self.log:
            self.lo = 10 ** math.floor(math.log10(vmin_pos))
            self.hi = 10 ** math.ceil(math.log10(max(vmax, self.lo * 10)))
        else:
            step = nice_step(vmax or 1.0)
            self.lo, self.hi = 0.0, step * math.ceil((vmax or 1.0) / step)
            self.step = step

    def y(self, v: float) -> float:
        if self.log:
            v = max(v, self.lo)
            f = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            f = (v - self.lo) / (self.hi - self.lo)
        return self.y0 - f * (self.y0 - self.y1)

    def ticks(self) -> list[float]:
        if self.log:
            n = round(math.log10(self.hi / self.lo))
            return [self.lo * 10**i for i in range(n + 1)]
        n = round((self.hi - self.lo) / self.step)
        return [self.lo + i * self.step for i in range(n + 1)]


def _frame(title: str, unit: str, axis: _Axis, width: int = W) -> list[str]:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{H}" '
        f'viewBox="0 0 {width} {H}" role="img" aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="18" class="t">{escape(title)}'
        f"{f' ({escape(unit)})' if unit else ''}</text>",
    ]
    for v in axis.ticks():
        y = axis.y(v)
        out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="g"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="yl">{_fmt_tick(v)}</text>')
    return out


def bar_chart(
    title: str, unit: str, bars: list[tuple[str, float, float, float]], log: bool = False
) -> str:
    """One bar per (label, median, min, max)."""
    if not bars:
        return ""
    vmax = max(b[3] for b in bars)
    vpos = min((b[2] for b in bars if b[2] > 0), default=1.0)
    axis = _Axis(vmax, vpos, log)
    out = _frame(title, unit, axis)
    slot = (W - LEFT - RIGHT) / len(bars)
    bw = min(60.0, slot * 0.6)
    for i, (label, med, lo, hi) in enumerate(bars):
        x = LEFT + slot * i + (slot - bw) / 2
        y = axis.y(med)
        out.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{axis.y0 - y:.1f}" '
            f'fill="{color(label, i)}"><title>{escape(label)}: {med:g}</title></rect>'
        )
        if hi > lo:
            cx = x + bw / 2
            out.append(
                f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{axis.y(lo):.1f}" y2="{axis.y(hi):.1f}" '
                'class="w"/>'
            )
            for v in (lo, hi):
                out.append(
                    f'<line x1="{cx - 6:.1f}" x2="{cx + 6:.1f}" y1="{axis.y(v):.1f}" '
                    f'y2="{axis.y(v):.1f}" class="w"/>'
                )
        out.append(
            f'<text x="{x + bw / 2:.1f}" y="{axis.y0 + 16}" class="xl">{escape(label)}</text>'
        )
        out.append(f'<text x="{x + bw / 2:.1f}" y="{y - 4:.1f}" class="v">{_fmt_tick(med)}</text>')
    out.append("</svg>")
    return "\n".join(out)


def grouped_chart(
    title: str,
    unit: str,
    groups: list[str],
    series: list[tuple[str, list[float | None]]],
    log: bool = True,
    reference: float | None = None,
) -> str:
    """Groups along x (e.g. percentiles); in each, one bar per series (e.g. target).
    With a ``reference`` (1.0 for ratios) bars grow from it, up or down, along a dashed line."""
    values = [v for _, vs in series for v in vs if v is not None]
    if not values:
        return ""
    vmax = max(values + ([reference] if reference else []))
    vpos = min([v for v in values if v > 0] + ([reference] if reference else []), default=1.0)
    axis = _Axis(vmax, vpos, log)
    width = max(W, LEFT + RIGHT + len(groups) * (30 * len(series) + 40))
    out = _frame(title, unit, axis, width)
    base = axis.y(reference) if reference is not None else axis.y0
    slot = (width - LEFT - RIGHT) / len(groups)
    bw = min(28.0, slot * 0.8 / max(1, len(series)))
    for gi, g in enumerate(groups):
        x0 = LEFT + slot * gi + (slot - bw * len(series)) / 2
        for si, (name, vs) in enumerate(series):
            v = vs[gi]
            if v is None:
                continue
            y = axis.y(v)
            top, height = min(y, base), abs(base - y)
            out.append(
                f'<rect x="{x0 + si * bw:.1f}" y="{top:.1f}" width="{bw - 2:.1f}" '
                f'height="{height:.1f}" fill="{color(name, si)}">'
                f"<title>{escape(name)} {escape(g)}: {v:g}</title></rect>"
            )
        out.append(
            f'<text x="{LEFT + slot * (gi + 0.5):.1f}" y="{axis.y0 + 16}" class="xl">'
            f"{escape(g)}</text>"
        )
    if reference is not None:
        y = axis.y(reference)
        out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="r"/>')
    lx = LEFT
    for si, (name, _) in enumerate(series):
        out.append(
            f'<rect x="{lx}" y="{H - 14}" width="10" height="10" fill="{color(name, si)}"/>'
            f'<text x="{lx + 14}" y="{H - 5}" class="lg">{escape(name)}</text>'
        )
        lx += 24 + 7 * len(name)
    out.append("</svg>")
    return "\n".join(out)


STYLE = """
svg { background: #fff; margin: 4px 8px 12px 0; }
svg .t { font: bold 13px sans-serif; fill: #222; }
svg .yl { font: 11px sans-serif; fill: #555; text-anchor: end; }
svg .xl { font: 12px sans-serif; fill: #222; text-anchor: middle; }
svg .v { font: 11px sans-serif; fill: #222; text-anchor: middle; }
svg .lg { font: 12px sans-serif; fill: #222; }
svg .g { stroke: #e4e4e4; stroke-width: 1; }
svg .w { stroke: #222; stroke-width: 1.2; }
svg .r { stroke: #c00; stroke-width: 1.2; stroke-dasharray: 5 4; }
"""
