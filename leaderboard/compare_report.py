"""`cqa compare`: the report (compare.md, compare.json, PNG plots) and the command.

    cqa compare RUN... --reference RUN [-o OUT_DIR]

A run is what `lm_eval ... --output_path DIR --log_samples` wrote: DIR/<model_name_sanitized>/
results_<time>.json plus one samples_<task>_<time>.jsonl per leaf task. RUN may be DIR, the model
subdir, or a results file; with several timestamps the latest results file and its samples are used.
`LABEL=PATH` names a run in the report (default: the directory name). Items are paired by id; the
statistics are computed in leaderboard.compare.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cqa_tasks.schema import GROUPS
from leaderboard import paired_stats as stats
from leaderboard.compare import compare_runs, ordered
from leaderboard.compare_scores import score_table
from leaderboard.paired_runs import Run, load_run
from leaderboard.surprise_plot import SurprisePoint, plot_surprise

# ---------------------------------------------------------------------------------------------- output


def _f(x: float | None, spec: str = ".3f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return format(x, spec)


def _p(x: float) -> str:
    if math.isnan(x):
        return "n/a"
    return f"{x:.2e}" if x < 1e-3 else f"{x:.3f}"


STAT_HEADER = "n | zero diffs | mean Δ(ΔI) bits | 95% CI | Wilcoxon p (>0) | d | pair acc ref → model | Δ pair acc |"
STAT_RULE = "---|---|---|---|---|---|---|---|"


def _stat_cells(r: Mapping[str, Any]) -> str:
    return (
        f"{r['n']} | {r['n_zero']} | {_f(r['mean_delta_delta_i'], '+.3f')} "
        f"| [{_f(r['ci_low'], '+.3f')}, {_f(r['ci_high'], '+.3f')}] | {_p(r['wilcoxon_p'])} "
        f"| {_f(r['cohens_d'], '+.2f')} | {_f(r['pair_acc_reference'])} → {_f(r['pair_acc_model'])} "
        f"| {_f(r['pair_acc_change'], '+.3f')} |"
    )


def render_markdown(result: Mapping[str, Any], plots: Sequence[str] = ()) -> str:
    ref = result["reference"]
    s = result["settings"]
    lines = [
        "# cqa compare",
        "",
        f"Reference: **{ref['label']}**: `{ref['model_name']}` ({ref['results_file']}), {ref['n_items']} items"
        + (f", epoch {ref['epoch']}" if ref["epoch"] is not None else ""),
        "",
        "| run | model | epoch | items | shared with reference | only in reference | only in run |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in result["runs"]:
        miss = result["missing"][run["label"]]
        n_shared = sum(1 for _ in result["items"][run["label"]])
        lines.append(
            f"| {run['label']} | `{run['model_name']}` | {run['epoch'] if run['epoch'] is not None else ''} "
            f"| {run['n_items']} | {n_shared} | {len(miss['only_in_reference'])} | {len(miss['only_in_model'])} |"
        )
    benches = sorted(
        {(m.get("bench_version"), m.get("data_file"), m.get("data_sha256")) for m in ref["bench"].values()},
        key=str,
    )
    lines += ["", "Benchmark: " + "; ".join(f"v{v} `{f}` sha256 {str(h)[:12]}…" for v, f, h in benches)]
    lines += [
        "",
        f"Δ(ΔI) {s['difference']}. CI: {s['ci']} ({s['n_resamples']} resamples, seed {s['seed']}). "
        f"Wilcoxon: {s['wilcoxon']}. d: {s['cohens_d']}. Δ pair acc: {s['pair_acc_change']}.",
    ]
    lines += ["", "Zero diffs: items with Δ(ΔI) = 0, counted in n but dropped by the Wilcoxon test."]
    if result["warnings"]:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in result["warnings"]]
    # every run on one screen: the whole literary and the whole factual group (details per run below)
    lines += ["", "## Summary", "", f"| run | group | {STAT_HEADER}", f"|---|---|{STAT_RULE}"]
    lines += [f"| {r['model']} | {r['group']} | {_stat_cells(r)}" for r in result["results"] if r["split"] == "all"]
    table = score_table(result.get("scores", []))
    if table:
        lines += ["", "## Primary score (docs/metric.md)", "",
                  "Contrast ΔI(Y) − ΔI(Y′) > 0 against a foreign item's constraints, balanced over the surprise "
                  "strata of each run's own reader; Δ with a paired bootstrap 95 % CI over items.", "", *table]  # fmt: skip
    lines += ["", "## Does ΔI follow surprise?", ""]
    lines += [f"- {label}: {text}" for label, text in result.get("surprise", {}).items() if text]
    for run in result["runs"]:
        lines += ["", f"## {run['label']} vs {ref['label']}", "", f"| group | split | {STAT_HEADER}", f"|---|---|{STAT_RULE}"]
        for r in result["results"]:
            if r["model"] != run["label"]:
                continue
            split = "all" if r["split"] == "all" else f"{r['split']} {r['value']}"
            lines.append(f"| {r['group']} | {split} | {_stat_cells(r)}")
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    return "\n".join(lines) + "\n"


def _json_safe(x: Any) -> Any:
    # strict JSON has no NaN: undefined statistics become null
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    return x


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def plot_delta_distribution(result: Mapping[str, Any], out: Path) -> Path:
    """Box plot with the items overlaid (strip), per model, one panel per group."""
    import numpy as np

    plt = _pyplot()
    labels = [r["label"] for r in result["runs"]]
    groups = ordered((it["group"] for items in result["items"].values() for it in items), GROUPS)
    fig, axes = plt.subplots(
        1, len(groups), figsize=(max(4.0, 1.2 * len(labels) + 2) * len(groups), 4), squeeze=False
    )
    rng = np.random.default_rng(0)  # jitter only; fixed so the same inputs give the same image
    for ax, group in zip(axes[0], groups, strict=True):
        data = [
            [it["delta_delta_i"] for it in result["items"][lab] if it["group"] == group] for lab in labels
        ]
        positions = list(range(1, len(labels) + 1))
        ax.boxplot([d if d else [math.nan] for d in data], positions=positions, widths=0.5, showfliers=False)
        for pos, d in zip(positions, data, strict=True):
            ax.scatter(pos + rng.uniform(-0.15, 0.15, len(d)), d, s=8, alpha=0.5, color="tab:blue")
        ax.axhline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_xticks(positions, labels, rotation=20, ha="right")
        ax.set_title(group)
        ax.set_ylabel(f"Δ(ΔI) vs {result['reference']['label']} (bits)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_pair_acc_by_epoch(result: Mapping[str, Any], out: Path) -> Path | None:
    """Pair accuracy against epoch per group; runs without an epoch are left out, a reference without
    one is a dashed line. None (and no file) when no run carries an epoch."""
    points = result["epochs"]
    if not any(p["epoch"] is not None for p in points):
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, group in enumerate(ordered((p["group"] for p in points), GROUPS)):
        color = f"C{k}"
        pts = sorted(
            (p["epoch"], p["pair_acc"]) for p in points if p["group"] == group and p["epoch"] is not None
        )
        ax.plot([e for e, _ in pts], [a for _, a in pts], marker="o", color=color, label=group)
        for p in points:
            if p["group"] == group and p["reference"] and p["epoch"] is None:
                ax.axhline(
                    p["pair_acc"], color=color, ls="--", lw=0.8, label=f"{group}: {p['label']} (reference)"
                )
    if all(isinstance(p["epoch"], int) for p in points if p["epoch"] is not None):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epoch 2, not 1.975
    ax.set_xlabel("epoch")
    ax.set_ylabel("pair accuracy (items shared by all runs)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def write_outputs(
    result: dict,
    out_dir: Path,
    plots: bool = True,
    surprise_points: Mapping[str, Sequence[SurprisePoint]] | None = None,
) -> dict[str, Path]:
    """compare.md, compare.json and the PNG plots in out_dir; returns what was written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if plots:
        written["delta_plot"] = plot_delta_distribution(result, out_dir / "delta_delta_i.png")
        epoch_plot = plot_pair_acc_by_epoch(result, out_dir / "pair_acc_by_epoch.png")
        if epoch_plot is not None:
            written["epoch_plot"] = epoch_plot
        if surprise_points:
            surprise = plot_surprise(surprise_points, out_dir / "surprise.png", "ΔI against S(o) − S(d), per item")
            if surprise is not None:
                written["surprise_plot"] = surprise
    md = render_markdown(result, [str(p) for p in written.values()])
    written["markdown"] = out_dir / "compare.md"
    written["markdown"].write_text(md, encoding="utf-8")
    written["json"] = out_dir / "compare.json"
    written["json"].write_text(
        json.dumps(_json_safe(result), indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    return written


# ---------------------------------------------------------------------------------------------- CLI


def _label_unique(runs: list[Run]) -> None:
    # two runs called alike (e.g. both "__root__...smollm2") would merge in the report: use paths
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.label] = seen.get(r.label, 0) + 1
    for r in runs:
        if seen[r.label] > 1:
            r.label = r.given.rstrip("/\\")
    final: dict[str, int] = {}
    for r in runs:
        final[r.label] = final.get(r.label, 0) + 1
        if final[r.label] > 1:
            r.label = f"{r.label} ({final[r.label]})"


def _compare(args: argparse.Namespace) -> int:
    reference = load_run(args.reference)
    runs = [load_run(spec) for spec in args.runs]
    _label_unique([reference, *runs])
    result = compare_runs(runs, reference, seed=args.seed, n_resamples=args.resamples)
    points = {r.label: [it.point for it in r.items.values() if it.point is not None] for r in (reference, *runs)}
    written = write_outputs(result, Path(args.out_dir), plots=not args.no_plots, surprise_points=points)
    print(written["markdown"].read_text(encoding="utf-8"))
    for kind, path in written.items():
        print(f"{kind}: {path}", file=sys.stderr)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `compare` on the `cqa` subparsers (called by cqa_tasks.cli.build_parser)."""
    p = sub.add_parser(
        "compare",
        help="paired per-item comparison of lm-eval runs (--log_samples) against a reference run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="lm-eval --output_path dir, model subdir or results file; LABEL=PATH names it",
    )
    p.add_argument(
        "--reference", required=True, metavar="RUN", help="the run every other run is compared with"
    )
    p.add_argument(
        "-o",
        "--out-dir",
        default="cqa_compare",
        help="where compare.md, compare.json and plots go (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default: %(default)s)")
    p.add_argument(
        "--resamples", type=int, default=stats.N_RESAMPLES, help="bootstrap resamples (default: %(default)s)"
    )
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.set_defaults(func=_compare)
