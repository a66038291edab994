"""ΔI against S(original) − S(twin), item by item: does the pair score follow which version is more surprising?

Pointwise mutual information favours rare text (docs/metric.md, "The surprise confound"). This
plot shows it per run: one point per pair, coloured by group, a least-squares line per group, and
the two surprise strata shaded (right: the original is the more surprising version). A score that
measured constraint fit alone would show a flat cloud. Written by `cqa compare` and `cqa leaderboard`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GROUP_COLOURS = {"literary": "#2f6db5", "factual": "#d9822b"}
MAX_PANELS = 12


@dataclass(frozen=True)
class SurprisePoint:
    group: str
    delta_s: float  # S(o) - S(d), bits
    delta_i: float  # I(o) - I(d), bits
    contrast: float | None = None  # dI(Y) - dI(Y'), bits; None in runs without a foreign Y'


def point_from_sample(row: Mapping[str, Any]) -> SurprisePoint | None:
    """The point of one lm-eval samples row of a CQA leaf task (v1-era rows too: ΔS from s_orig, s_degr)."""
    item, doc = row.get("cqa_item"), row.get("doc")
    if not isinstance(item, Mapping) or not isinstance(doc, Mapping):
        return None
    try:
        delta_s = item["delta_s"] if item.get("delta_s") is not None else item["s_orig"] - item["s_degr"]
        contrast = item.get("delta_contrast")
        contrast = float(contrast) if contrast is not None else None
        point = SurprisePoint(str(doc.get("group", "?")), float(delta_s), float(item["delta_i"]), contrast)
    except (KeyError, TypeError, ValueError):
        return None
    return point if math.isfinite(point.delta_s) and math.isfinite(point.delta_i) else None


def spearman(points: Sequence[SurprisePoint], score: str = "delta_i") -> float:
    """Spearman's ρ between ΔS and a score ("delta_i" or "contrast"); NaN for fewer than 3 points."""
    pairs = [(p.delta_s, getattr(p, score)) for p in points if getattr(p, score) is not None]
    if len(pairs) < 3 or len({x for x, _ in pairs}) < 2 or len({y for _, y in pairs}) < 2:
        return math.nan
    from scipy.stats import spearmanr

    return float(spearmanr([x for x, _ in pairs], [y for _, y in pairs]).statistic)


def stratum_accuracy(points: Sequence[SurprisePoint], up: bool) -> tuple[float, int]:
    """(share with ΔI > 0, 0.5 on a tie; n) over the points of one stratum."""
    chosen = [p for p in points if (p.delta_s > 0 if up else p.delta_s < 0)]
    if not chosen:
        return math.nan, 0
    wins = sum(1.0 if p.delta_i > 0 else 0.5 if p.delta_i == 0 else 0.0 for p in chosen)
    return wins / len(chosen), len(chosen)


def fit_line(points: Sequence[SurprisePoint]) -> tuple[float, float] | None:
    """Least-squares (slope, intercept) of ΔI on ΔS; None without two distinct ΔS values."""
    n = len(points)
    if n < 2:
        return None
    mx = math.fsum(p.delta_s for p in points) / n
    my = math.fsum(p.delta_i for p in points) / n
    sxx = math.fsum((p.delta_s - mx) ** 2 for p in points)
    if sxx == 0:
        return None
    slope = math.fsum((p.delta_s - mx) * (p.delta_i - my) for p in points) / sxx
    return slope, my - slope * mx


def caption(points: Sequence[SurprisePoint]) -> str:
    """One line per group: ρ(ΔI, ΔS) and the ΔI pair accuracy in each stratum."""
    parts = []
    for group in sorted({p.group for p in points}):
        pts = [p for p in points if p.group == group]
        (up, n_up), (down, n_down) = stratum_accuracy(pts, True), stratum_accuracy(pts, False)
        text = (
            f"{group}: ρ(ΔI, ΔS) = {spearman(pts):+.2f}; ΔI acc {up:.2f} where S(o) > S(d) (n={n_up}), "
            f"{down:.2f} where S(o) < S(d) (n={n_down})"
        )
        if any(p.contrast is not None for p in pts):
            text += f"; ρ(contrast, ΔS) = {spearman(pts, 'contrast'):+.2f}"
        parts.append(text)
    return "; ".join(parts)


def plain(text: object) -> str:
    """A label from a results file as plain text in a plot: `$` would start matplotlib's mathtext,
    where a model named "$\\foo$" fails the drawing (and with it the whole report)."""
    return str(text).replace("$", r"\$")


def plot_surprise(runs: Mapping[str, Sequence[SurprisePoint]], out: Path, title: str = "") -> Path | None:
    """One panel per run (at most MAX_PANELS); None when no run has points. Deterministic PNG bytes."""
    runs = {label: pts for label, pts in runs.items() if pts}
    if not runs:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    labels = list(runs)[:MAX_PANELS]
    cols = min(3, len(labels))
    rows = math.ceil(len(labels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(6.0, 5.2 * cols), 4.4 * rows), squeeze=False)
    for ax in axes.flat[len(labels) :]:
        ax.set_visible(False)
    for ax, label in zip(axes.flat, labels, strict=False):
        pts = runs[label]
        xs = [p.delta_s for p in pts]
        span = max(1.0, max(abs(x) for x in xs)) * 1.08
        ax.axvspan(0, span, color="#e8f0fa", zorder=0)
        ax.axvspan(-span, 0, color="#fdf1e6", zorder=0)
        ax.axhline(0, color="#888", lw=0.8, zorder=1)
        ax.axvline(0, color="#888", lw=0.8, zorder=1)
        for group in sorted({p.group for p in pts}):
            gp = [p for p in pts if p.group == group]
            colour = GROUP_COLOURS.get(group, "#555")
            rho = spearman(gp)
            ax.scatter([p.delta_s for p in gp], [p.delta_i for p in gp], s=12, alpha=0.65, color=colour,
                       label=plain(f"{group} (n={len(gp)}, ρ={rho:+.2f})"), zorder=2)  # fmt: skip
            line = fit_line(gp)
            if line is not None:
                slope, intercept = line
                ax.plot([-span, span], [intercept - slope * span, intercept + slope * span], color=colour, lw=1.6, zorder=3)
        ax.set_xlim(-span, span)
        ax.text(0.98, 0.02, "original more surprising →", transform=ax.transAxes, ha="right", fontsize=8, color="#1d4f8f")
        ax.text(0.02, 0.02, "← twin more surprising", transform=ax.transAxes, ha="left", fontsize=8, color="#8a4a0e")
        ax.set_title(plain(label), fontsize=10)
        ax.set_xlabel("S(original) − S(twin), bits")
        ax.set_ylabel("ΔI = I(original) − I(twin), bits")
        ax.legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(plain(title), fontsize=11)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return out
