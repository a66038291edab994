"""`cqa meta-eval` plots (PNG, deterministic bytes): readers side by side.

* ratings: per reader a heat map of Kendall's τ-b, scores (rows) × criteria (columns), each cell
  with its 95 % interval; one colour scale for all panels, so readers compare at a glance.
* pairs: per score a bar per reader, the accuracy of picking the human's choice with its 95 %
  interval, and the chance line at 0.5.
"""

from __future__ import annotations

import math
from pathlib import Path

from cqa_tasks.human_metric import SCORES
from leaderboard.meta_eval_runs import Interval, Section

READER_COLOURS = ("#2f6db5", "#d9822b", "#3a9a5b", "#8e5bb5", "#b5473a", "#5b8e8e", "#7a7a7a")
MAX_READERS = 8


def _ok(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _cell_text(iv: Interval | None) -> str:
    if iv is None or not _ok(iv.value):
        return "n/a"
    text = f"{iv.value:+.2f}"
    if _ok(iv.low) and _ok(iv.high):
        text += f"\n[{iv.low:+.2f}, {iv.high:+.2f}]"
    return text


def _reader_title(section: Section, k: int) -> str:
    run = section.readers[k]
    return f"{section.labels[k]} ({run.size}, n={run.n if run.n is not None else '?'})"


def plot_ratings(section: Section, out: Path) -> Path | None:
    """Heat maps of τ-b with intervals, one panel per reader; None when nothing is defined."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt
    import numpy as np

    readers = range(min(len(section.readers), MAX_READERS))
    scores, criteria = list(SCORES), section.criteria
    grids = []
    for k in readers:
        values = section.readers[k].values
        grid = [[(values.get(f"tau:{s}:{c}") or Interval(None, None, None)).value for c in criteria] for s in scores]
        grids.append(np.array([[v if _ok(v) else np.nan for v in row] for row in grid], dtype=float))
    if not criteria or all(np.isnan(g).all() for g in grids):
        return None
    vmax = max(0.3, max(float(np.nanmax(np.abs(g))) for g in grids if not np.isnan(g).all()))
    width = 1.3 + 1.05 * len(criteria)
    fig, axes = plt.subplots(1, len(grids), figsize=(2.6 + width * len(grids), 0.62 * len(scores) + 1.8), squeeze=False,
                             layout="constrained")  # fmt: skip
    image = None
    for ax, k, grid in zip(axes.flat, readers, grids, strict=True):
        cmap = matplotlib.colormaps["RdBu"].with_extremes(bad="#e8e8e8")  # grey: undefined (n/a)
        image = ax.imshow(grid, cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto")
        for i, s in enumerate(scores):
            for j, c in enumerate(criteria):
                iv = section.readers[k].values.get(f"tau:{s}:{c}")
                dark = _ok(grid[i, j]) and abs(grid[i, j]) > 0.6 * vmax
                ax.text(j, i, _cell_text(iv), ha="center", va="center", fontsize=7, color="white" if dark else "#222")
        ax.set_xticks(range(len(criteria)), criteria, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(scores)), [SCORES[s].label for s in scores] if k == 0 else [""] * len(scores), fontsize=8)
        ax.set_title(_reader_title(section, k), fontsize=9)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="Kendall τ-b with the human ratings")
    fig.suptitle(f"{section.task} · {section.data_file}: story-level τ-b [95 % bootstrap interval]", fontsize=10)
    return _save(fig, plt, out)


def plot_pairs(section: Section, out: Path) -> Path | None:
    """Accuracy bars with intervals, a bar per reader for each score, and the chance line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    readers = list(range(min(len(section.readers), MAX_READERS)))
    scores = list(SCORES)
    if not any(_ok(section.readers[k].values.get(s, Interval(None, None, None)).value) for k in readers for s in scores):
        return None
    fig, ax = plt.subplots(figsize=(max(7.0, 0.6 * len(scores) * len(readers) ** 0.5 + 2.5), 4.8), layout="constrained")
    width = 0.8 / len(readers)
    for slot, k in enumerate(readers):
        xs, ys, errs = [], [], [[], []]
        for i, s in enumerate(scores):
            iv = section.readers[k].values.get(s)
            if iv is None or not _ok(iv.value):
                continue
            xs.append(i - 0.4 + width * (slot + 0.5))
            ys.append(iv.value)
            errs[0].append(iv.value - iv.low if _ok(iv.low) else 0.0)
            errs[1].append(iv.high - iv.value if _ok(iv.high) else 0.0)
        ax.bar(xs, ys, width * 0.92, yerr=errs, capsize=2, color=READER_COLOURS[slot % len(READER_COLOURS)],
               label=_reader_title(section, k), error_kw={"elinewidth": 0.9})  # fmt: skip
    ax.axhline(0.5, color="#444", lw=1.0, ls="--", zorder=0)
    ax.text(1.005, 0.5, "chance", transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=8, color="#444")
    ax.set_ylim(0, 1.05)
    ax.set_xticks(range(len(scores)), [SCORES[s].label for s in scores], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("accuracy: picks the human's choice")
    fig.suptitle(f"{section.task} · {section.data_file}: accuracy [95 % bootstrap interval]", fontsize=10)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(4, len(readers)), frameon=False)
    return _save(fig, plt, out)


def _save(fig, plt, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return out


def plot_section(section: Section, out: Path) -> Path | None:
    return plot_ratings(section, out) if section.kind == "ratings" else plot_pairs(section, out)
