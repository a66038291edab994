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

from cqa_tasks.atomic import Outputs
from cqa_tasks.checks import arg_int, attempt, gather, output_dir, raise_if
from cqa_tasks.schema import GROUPS
from leaderboard import paired_stats as stats
from leaderboard.compare import compare_runs, ordered
from leaderboard.compare_scores import md_cell, md_code, score_table
from leaderboard.paired_runs import Run, load_run
from leaderboard.surprise_plot import SurprisePoint, plain, plot_surprise

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
        f"Reference: **{md_cell(ref['label'])}**: {md_code(ref['model_name'])} ({md_cell(ref['results_file'])}), {ref['n_items']} items"
        + (f", epoch {ref['epoch']}" if ref["epoch"] is not None else ""),
        "",
        "| run | model | epoch | items | shared with reference | only in reference | only in run |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in result["runs"]:
        miss = result["missing"][run["label"]]
        n_shared = sum(1 for _ in result["items"][run["label"]])
        lines.append(
            f"| {md_cell(run['label'])} | {md_code(run['model_name'])} | {run['epoch'] if run['epoch'] is not None else ''} "
            f"| {run['n_items']} | {n_shared} | {len(miss['only_in_reference'])} | {len(miss['only_in_model'])} |"
        )
    benches = sorted(
        {(m.get("bench_version"), m.get("data_file"), m.get("data_sha256")) for m in ref["bench"].values()},
        key=str,
    )
    lines += ["", "Benchmark: " + "; ".join(f"v{md_cell(v)} {md_code(f)} sha256 {md_cell(str(h)[:12])}…" for v, f, h in benches)]
    lines += [
        "",
        f"Δ(ΔI) {s['difference']}. CI: {s['ci']} ({s['n_resamples']} resamples, seed {s['seed']}). "
        f"Wilcoxon: {s['wilcoxon']}. d: {s['cohens_d']}. Δ pair acc: {s['pair_acc_change']}.",
    ]
    lines += ["", "Zero diffs: items with Δ(ΔI) = 0, counted in n but dropped by the Wilcoxon test."]
    if result["warnings"]:
        lines += ["", "## Warnings", ""] + [f"- {md_cell(w)}" for w in result["warnings"]]
    # every run on one screen: the whole literary and the whole factual group (details per run below)
    lines += ["", "## Summary", "", f"| run | group | {STAT_HEADER}", f"|---|---|{STAT_RULE}"]
    lines += [f"| {md_cell(r['model'])} | {md_cell(r['group'])} | {_stat_cells(r)}" for r in result["results"] if r["split"] == "all"]
    table = score_table(result.get("scores", []))
    if table:
        lines += ["", "## Primary score (docs/metric.md)", "",
                  "Contrast ΔI(Y) − ΔI(Y′) > 0 against a foreign item's constraints, balanced over the surprise "
                  "strata of each run's own reader; Δ with a paired bootstrap 95 % CI over items.", "", *table]  # fmt: skip
    lines += ["", "## Does ΔI follow surprise?", ""]
    lines += [f"- {md_cell(label)}: {text}" for label, text in result.get("surprise", {}).items() if text]
    for run in result["runs"]:
        lines += ["", f"## {md_cell(run['label'])} vs {md_cell(ref['label'])}", "", f"| group | split | {STAT_HEADER}", f"|---|---|{STAT_RULE}"]
        for r in result["results"]:
            if r["model"] != run["label"]:
                continue
            split = "all" if r["split"] == "all" else f"{r['split']} {md_cell(r['value'])}"
            lines.append(f"| {md_cell(r['group'])} | {split} | {_stat_cells(r)}")
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
        ax.set_xticks(positions, [plain(lab) for lab in labels], rotation=20, ha="right")
        ax.set_title(plain(group))
        ax.set_ylabel(f"Δ(ΔI) vs {plain(result['reference']['label'])} (bits)")
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
        ax.plot([e for e, _ in pts], [a for _, a in pts], marker="o", color=color, label=plain(group))
        for p in points:
            if p["group"] == group and p["reference"] and p["epoch"] is None:
                ax.axhline(
                    p["pair_acc"], color=color, ls="--", lw=0.8, label=plain(f"{group}: {p['label']} (reference)")
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
    """compare.md, compare.json and the PNG plots in out_dir; returns what was written. All are
    written to temporaries and renamed into place together: an error or Ctrl-C leaves the previous
    report (or nothing, not even an empty out_dir)."""
    written: dict[str, Path] = {}
    with Outputs() as staged:
        if plots:
            if plot_delta_distribution(result, staged.path(out_dir / "delta_delta_i.png")):
                written["delta_plot"] = out_dir / "delta_delta_i.png"
            if plot_pair_acc_by_epoch(result, staged.path(out_dir / "pair_acc_by_epoch.png")) is not None:
                written["epoch_plot"] = out_dir / "pair_acc_by_epoch.png"
            if surprise_points:
                title = "ΔI against S(o) − S(d), per item"
                if plot_surprise(surprise_points, staged.path(out_dir / "surprise.png"), title) is not None:
                    written["surprise_plot"] = out_dir / "surprise.png"
        md = render_markdown(result, [str(p) for p in written.values()])
        written["markdown"] = staged.text(out_dir / "compare.md", md)
        text = json.dumps(_json_safe(result), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        written["json"] = staged.text(out_dir / "compare.json", text)
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
    issues = output_dir(Path(args.out_dir), "-o")
    loaded = attempt(issues, gather, [args.reference, *args.runs], load_run)  # every run's problems
    raise_if(issues)
    reference, *runs = loaded
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
    p.add_argument("--seed", type=arg_int(0, 2**32 - 1), default=0, help="bootstrap seed (default: %(default)s)")
    p.add_argument(
        "--resamples", type=arg_int(1, 1_000_000), default=stats.N_RESAMPLES,
        help="bootstrap resamples (default: %(default)s)",
    )
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.set_defaults(func=_compare)
