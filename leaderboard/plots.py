"""Hand-written SVG plots: no plotting library, so the output is byte-stable and fully inline.

Each function returns an `<svg>` element for embedding in HTML; `standalone` turns it into an
.svg file. Every label from a results file goes through html.escape.
"""

from __future__ import annotations

import math
from html import escape

from cqa_tasks.schema import DIMENSIONS
from leaderboard.stats import Estimate
from leaderboard.table import Section

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif"
LITERARY = "#2f6db5"
FACTUAL = "#d9822b"
INK = "#1f2933"
MUTED = "#6b7785"
GRID = "#e3e7ec"
LOW, MID, HIGH = (194, 86, 42), (246, 244, 240), (47, 109, 181)
LABEL_CHARS = 30


def _f(x: float) -> str:
    """Coordinates with one decimal: compact and identical on every machine."""
    text = f"{x:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def _short(label: str, limit: int = LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 x 10^k steps) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 10) + 0.0)
        t += step
    if ticks[-1] < hi:
        ticks.append(round(t, 10))
    return ticks


def _svg(width: float, height: float, title: str, body: list[str], klass: str) -> str:
    return (
        f'<svg class="{klass}" viewBox="0 0 {_f(width)} {_f(height)}" width="{_f(width)}" height="{_f(height)}" '
        f'role="img" font-family="{escape(FONT)}" font-size="12" fill="{INK}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def standalone(svg: str) -> str:
    """An .svg file: the namespace an inline <svg> inherits from HTML must be explicit."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
        + "\n"
    )


def _empty(title: str, klass: str, why: str = "No data for this plot.") -> str:
    return _svg(420, 60, title, [f'<text x="10" y="35" fill="{MUTED}">{escape(why)}</text>'], klass)


def _label(x: float, y: float, text: str, anchor: str = "end", color: str = INK) -> str:
    full = escape(text)
    return (
        f'<text x="{_f(x)}" y="{_f(y)}" text-anchor="{anchor}" dominant-baseline="middle" fill="{color}">'
        f"<title>{full}</title>{escape(_short(text))}</text>"
    )


def delta_i_plot(section: Section) -> str:
    """ΔI per model with 95 % CI bars, literary and factual control side by side."""
    title = f"Mean ΔI (bits) with 95 % CIs — {section.title}"
    series = [("literary", LITERARY, -5.0), ("factual", FACTUAL, 5.0)]
    rows = [(r.label, [r.get(cell, "delta_i") for cell, _, _ in series]) for r in section.rows]
    points = [v for _, ests in rows for e in ests if e for v in (e.mean, e.lo, e.hi) if v is not None]
    if not points:
        return _empty(title, "plot plot-delta")
    lo, hi = min(points + [0.0]), max(points + [0.0])
    pad = (hi - lo) * 0.05 or 0.5
    ticks = nice_ticks(lo - pad, hi + pad)
    left, right, top, row_h = 200.0, 20.0, 44.0, 30.0
    width = 660.0
    height = top + row_h * len(rows) + 46
    x0, x1 = ticks[0], ticks[-1]

    def sx(v: float) -> float:
        return left + (v - x0) / (x1 - x0) * (width - left - right)

    body = []
    for i in range(len(rows)):
        if i % 2 == 0:
            body.append(
                f'<rect x="0" y="{_f(top + i * row_h)}" width="{_f(width)}" height="{_f(row_h)}" fill="#f6f8fa"/>'
            )
    plot_bottom = top + row_h * len(rows)
    for t in ticks:
        x = sx(t)
        color = MUTED if t == 0 else GRID
        dash = ' stroke-dasharray="4 3"' if t == 0 else ""
        body.append(
            f'<line x1="{_f(x)}" y1="{_f(top)}" x2="{_f(x)}" y2="{_f(plot_bottom)}" stroke="{color}"{dash}/>'
        )
        body.append(
            f'<text x="{_f(x)}" y="{_f(plot_bottom + 16)}" text-anchor="middle" fill="{MUTED}">{_tick(t)}</text>'
        )
    body.append(
        f'<text x="{_f((left + width - right) / 2)}" y="{_f(plot_bottom + 36)}" text-anchor="middle" fill="{MUTED}">'
        "mean ΔI = I(original) − I(degraded), bits</text>"
    )
    for i, (label, ests) in enumerate(rows):
        y = top + i * row_h + row_h / 2
        body.append(_label(left - 10, y, label))
        for (name, color, dy), est in zip(series, ests, strict=True):
            if est is None:
                continue
            body.append(_whisker(sx, est, y + dy, color, f"{label} — {name}"))
    body += _legend(left, 18, [("literary", LITERARY), ("factual control", FACTUAL)])
    return _svg(width, height, title, body, "plot plot-delta")


def _tick(t: float) -> str:
    text = f"{t:g}"
    return text.replace("-", "−")


def _whisker(sx, est: Estimate, y: float, color: str, name: str) -> str:
    parts = []
    if est.lo is not None and est.hi is not None:
        a, b = sx(est.lo), sx(est.hi)
        parts.append(
            f'<line x1="{_f(a)}" y1="{_f(y)}" x2="{_f(b)}" y2="{_f(y)}" stroke="{color}" stroke-width="2"/>'
        )
        for x in (a, b):
            parts.append(
                f'<line x1="{_f(x)}" y1="{_f(y - 3.5)}" x2="{_f(x)}" y2="{_f(y + 3.5)}" stroke="{color}" stroke-width="1.5"/>'
            )
    ci = "" if est.lo is None else f" [{est.lo:.2f}, {est.hi:.2f}]"
    parts.append(
        f'<circle cx="{_f(sx(est.mean))}" cy="{_f(y)}" r="4.5" fill="{color}" stroke="#fff" stroke-width="1">'
        f"<title>{escape(name)}: {est.mean:+.2f}{ci}</title></circle>"
    )
    return "".join(parts)


def _legend(x: float, y: float, items: list[tuple[str, str]]) -> list[str]:
    out = []
    for name, color in items:
        out.append(f'<circle cx="{_f(x + 5)}" cy="{_f(y)}" r="5" fill="{color}"/>')
        out.append(f'<text x="{_f(x + 15)}" y="{_f(y)}" dominant-baseline="middle">{escape(name)}</text>')
        x += 30 + 7.2 * len(name)
    return out


def heat_color(value: float) -> tuple[str, str]:
    """Fill and text colour: orange below chance (0.5), blue above, pale at chance."""
    t = max(0.0, min(1.0, value))
    a, b, u = (LOW, MID, t / 0.5) if t < 0.5 else (MID, HIGH, (t - 0.5) / 0.5)
    rgb = tuple(round(a[k] + (b[k] - a[k]) * u) for k in range(3))
    text = "#ffffff" if abs(t - 0.5) > 0.3 else INK
    return "#{:02x}{:02x}{:02x}".format(*rgb), text


def heatmap(section: Section) -> str:
    """Literary pair accuracy, model x dimension, plus all literary items as the last column."""
    title = f"Literary pair accuracy by dimension — {section.title}"
    cols = [(f"literary_{d}", d) for d in DIMENSIONS] + [("literary", "all")]
    rows = section.rows
    if not rows:
        return _empty(title, "plot plot-heat")
    left, top, cw, ch = 200.0, 34.0, 72.0, 30.0
    width = left + cw * len(cols) + 20
    height = top + ch * len(rows) + 64
    body = []
    for j, (_, name) in enumerate(cols):
        x = left + j * cw + cw / 2 + (6 if name == "all" else 0)
        body.append(
            f'<text x="{_f(x)}" y="{_f(top - 12)}" text-anchor="middle" fill="{MUTED}">{escape(name)}</text>'
        )
    for i, row in enumerate(rows):
        y = top + i * ch
        body.append(_label(left - 10, y + ch / 2, row.label))
        for j, (cell, name) in enumerate(cols):
            x = left + j * cw + (6 if name == "all" else 0)
            est = row.get(cell, "pair_acc")
            fill, ink = heat_color(est.mean) if est else ("#eef0f3", MUTED)
            text = f"{est.mean:.2f}" if est else "—"
            tip = f"{row.label} — {name}: " + (f"{est.mean:.3f} (n={est.n})" if est else "not run")
            body.append(
                f'<rect x="{_f(x + 1)}" y="{_f(y + 1)}" width="{_f(cw - 2)}" height="{_f(ch - 2)}" rx="3" fill="{fill}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            body.append(
                f'<text x="{_f(x + cw / 2)}" y="{_f(y + ch / 2)}" text-anchor="middle" dominant-baseline="middle" '
                f'fill="{ink}">{text}</text>'
            )
    # Colour legend: a gradient through the three anchors, chance marked.
    gid = f"grad-{section.slug}"
    ly, lx, lw = top + ch * len(rows) + 22, left, cw * 4
    stops = "".join(
        f'<stop offset="{o}" stop-color="{heat_color(v)[0]}"/>'
        for o, v in (("0", 0.0), ("0.5", 0.5), ("1", 1.0))
    )
    body.append(f'<defs><linearGradient id="{escape(gid)}">{stops}</linearGradient></defs>')
    body.append(
        f'<rect x="{_f(lx)}" y="{_f(ly)}" width="{_f(lw)}" height="10" rx="2" fill="url(#{escape(gid)})"/>'
    )
    for v, name in ((0.0, "0"), (0.5, "0.5 chance"), (1.0, "1")):
        anchor = "start" if v == 0 else "end" if v == 1 else "middle"
        body.append(
            f'<text x="{_f(lx + lw * v)}" y="{_f(ly + 24)}" text-anchor="{anchor}" fill="{MUTED}">{name}</text>'
        )
    return _svg(width, height, title, body, "plot plot-heat")


def scatter(section: Section) -> str:
    """Literary vs factual-control pair accuracy, one point per model, with 95 % CI crosshairs."""
    title = f"Literary vs factual pair accuracy — {section.title}"
    pts = [
        (r.label, lit, fac)
        for r in section.rows
        if (lit := r.get("literary", "pair_acc")) is not None
        and (fac := r.get("factual", "pair_acc")) is not None
    ]
    if not pts:
        return _empty(title, "plot plot-scatter", "No model has both literary and factual results.")
    left, top, size, right = 56.0, 16.0, 340.0, 210.0
    width, height = left + size + right, top + size + 50

    def sx(v: float) -> float:
        return left + v * size

    def sy(v: float) -> float:
        return top + (1 - v) * size

    body = [
        f'<rect x="{_f(left)}" y="{_f(top)}" width="{_f(size)}" height="{_f(size)}" fill="#fbfcfd" stroke="{GRID}"/>'
    ]
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        color, dash = (MUTED, ' stroke-dasharray="4 3"') if t == 0.5 else (GRID, "")
        body.append(
            f'<line x1="{_f(sx(t))}" y1="{_f(top)}" x2="{_f(sx(t))}" y2="{_f(top + size)}" stroke="{color}"{dash}/>'
        )
        body.append(
            f'<line x1="{_f(left)}" y1="{_f(sy(t))}" x2="{_f(left + size)}" y2="{_f(sy(t))}" stroke="{color}"{dash}/>'
        )
        body.append(
            f'<text x="{_f(sx(t))}" y="{_f(top + size + 16)}" text-anchor="middle" fill="{MUTED}">{t:g}</text>'
        )
        body.append(
            f'<text x="{_f(left - 8)}" y="{_f(sy(t))}" text-anchor="end" dominant-baseline="middle" fill="{MUTED}">{t:g}</text>'
        )
    body.append(
        f'<line x1="{_f(sx(0))}" y1="{_f(sy(0))}" x2="{_f(sx(1))}" y2="{_f(sy(1))}" stroke="{MUTED}" stroke-dasharray="1 3"/>'
    )
    body.append(
        f'<text x="{_f(left + size / 2)}" y="{_f(top + size + 36)}" text-anchor="middle" fill="{MUTED}">literary pair accuracy</text>'
    )
    body.append(
        f'<text x="{_f(left - 40)}" y="{_f(top + size / 2)}" text-anchor="middle" fill="{MUTED}" '
        f'transform="rotate(-90 {_f(left - 40)} {_f(top + size / 2)})">factual pair accuracy</text>'
    )
    for label, lit, fac in pts:
        x, y = sx(lit.mean), sy(fac.mean)
        if lit.lo is not None and lit.hi is not None:
            body.append(
                f'<line x1="{_f(sx(lit.lo))}" y1="{_f(y)}" x2="{_f(sx(lit.hi))}" y2="{_f(y)}" stroke="{LITERARY}" stroke-opacity="0.35" stroke-width="2"/>'
            )
        if fac.lo is not None and fac.hi is not None:
            body.append(
                f'<line x1="{_f(x)}" y1="{_f(sy(fac.lo))}" x2="{_f(x)}" y2="{_f(sy(fac.hi))}" stroke="{FACTUAL}" stroke-opacity="0.35" stroke-width="2"/>'
            )
        body.append(
            f'<circle cx="{_f(x)}" cy="{_f(y)}" r="5" fill="{LITERARY}" stroke="#fff" stroke-width="1.2">'
            f"<title>{escape(label)}: literary {lit.mean:.3f}, factual {fac.mean:.3f}</title></circle>"
        )
    # Labels in the right margin, in the points' vertical order, spread so none overlap,
    # each joined to its point by a thin leader line.
    order = sorted(range(len(pts)), key=lambda k: sy(pts[k][2].mean))
    ys: list[float] = []
    for k in order:
        want = sy(pts[k][2].mean)
        ys.append(max(want, ys[-1] + 15) if ys else want)
    overflow = (ys[-1] - (top + size)) if ys else 0
    if overflow > 0:
        ys = [max(top, y - overflow) for y in ys]
    lx = left + size + 14
    for k, ly in zip(order, ys, strict=True):
        label, lit, fac = pts[k]
        body.append(
            f'<line x1="{_f(sx(lit.mean) + 5)}" y1="{_f(sy(fac.mean))}" x2="{_f(lx - 3)}" y2="{_f(ly)}" '
            f'stroke="{MUTED}" stroke-opacity="0.35"/>'
        )
        body.append(_label(lx, ly, label, anchor="start"))
    return _svg(width, height, title, body, "plot plot-scatter")


PLOTS = {"delta_i": delta_i_plot, "heatmap": heatmap, "scatter": scatter}
