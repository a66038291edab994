"""`cqa compare RUN... --reference RUN [-o OUT_DIR]`: paired comparison of lm-eval runs on CQA-Bench.

A run is what `lm_eval ... --output_path DIR --log_samples` wrote: DIR/<model_name_sanitized>/
results_<time>.json plus one samples_<task>_<time>.jsonl per leaf task. RUN may be DIR, the model
subdir, or a results file; with several timestamps the latest results file and its samples are used.
`LABEL=PATH` names a run in the report (default: the directory name).

Items are paired by id; per item Δ(ΔI) = ΔI(model) − ΔI(reference), in bits. Per model, per group
(literary, factual) and within each group per dimension and per language, the report gives n, the
mean Δ(ΔI) with a percentile bootstrap 95 % CI, a one-sided Wilcoxon signed-rank p (H1: Δ(ΔI) > 0),
paired Cohen's d and the change in pair accuracy; and the surprise-controlled primary score
(docs/metric.md) of both runs with its change. The math lives in leaderboard.paired_stats and
leaderboard.compare_scores; the report and the command in leaderboard.compare_report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from cqa_tasks.schema import DIMENSIONS, GROUPS, LANGS
from leaderboard import paired_stats as stats
from leaderboard.compare_scores import score_row
from leaderboard.paired_runs import (
    N_EXAMPLE_IDS,
    CompareError,
    Item,
    Run,
    check_docs_agree,
    check_same_bench,
    load_run,
    warn,
)
from leaderboard.surprise_plot import caption

__all__ = ["CompareError", "compare_runs", "load_run"]


# ---------------------------------------------------------------------------------------------- analysis


def ordered(values: Iterable[str], known: Sequence[str]) -> list[str]:
    present = set(values)
    return [v for v in known if v in present] + sorted(present - set(known))


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def _row(
    model: str,
    group: str,
    split: str,
    value: str,
    pairs: list[tuple[Item, Item]],
    seed: int,
    n_resamples: int,
) -> dict:
    diffs = [m.delta_i - r.delta_i for r, m in pairs]
    s = stats.paired_summary(diffs, seed=seed, n_resamples=n_resamples)
    acc_ref = _mean([r.pair_acc for r, _ in pairs])
    acc_model = _mean([m.pair_acc for _, m in pairs])
    return {
        "model": model,
        "group": group,
        "split": split,
        "value": value,
        "n": s.n,
        "n_zero": sum(d == 0 for d in diffs),
        "mean_delta_delta_i": s.mean,
        "ci_low": s.ci_low,
        "ci_high": s.ci_high,
        "wilcoxon_p": s.wilcoxon_p,
        "cohens_d": s.cohens_d,
        "delta_i_reference": _mean([r.delta_i for r, _ in pairs]),
        "delta_i_model": _mean([m.delta_i for _, m in pairs]),
        "pair_acc_reference": acc_ref,
        "pair_acc_model": acc_model,
        "pair_acc_change": acc_model - acc_ref,
    }


def _run_info(run: Run) -> dict:
    return {
        "label": run.label,
        "path": run.given,
        "results_file": str(run.results_file),
        "model_name": run.model_name,
        "model_args": run.model_args,
        "epoch": run.epoch,
        "n_items": len(run.items),
        "bench": run.bench,
    }


def compare_runs(
    runs: Sequence[Run], reference: Run, seed: int = 0, n_resamples: int = stats.N_RESAMPLES
) -> dict:
    """Everything the report needs, JSON-able: run info, warnings, missing ids, stat rows, per-item diffs."""
    warnings: list[str] = list(reference.warnings)
    missing: dict[str, dict] = {}
    rows: list[dict] = []
    scores: list[dict] = []
    per_item: dict[str, list[dict]] = {}
    compared: list[Run] = []
    for run in runs:
        warnings += run.warnings
        if run.results_file.resolve() == reference.results_file.resolve():
            warn(warnings, f"{run.given} is the reference run itself; skipped")
            continue
        warnings += check_same_bench(reference, run)
        only_ref = sorted(set(reference.items) - set(run.items))
        only_run = sorted(set(run.items) - set(reference.items))
        common = sorted(set(reference.items) & set(run.items))
        if not common:
            raise CompareError(f"{run.describe()} and reference {reference.describe()} share no item ids")
        check_docs_agree(reference, run, common)
        missing[run.label] = {"only_in_reference": only_ref, "only_in_model": only_run}
        for ids, where in ((only_ref, f"missing from {run.label}"), (only_run, "missing from the reference")):
            if ids:
                warn(
                    warnings,
                    f"{len(ids)} item(s) {where} (e.g. {', '.join(ids[:N_EXAMPLE_IDS])}); "
                    f"{run.label} is compared on the {len(common)} shared items",
                )
        pairs = [(reference.items[i], run.items[i]) for i in common]
        per_item[run.label] = [
            {
                "id": r.id,
                "group": r.group,
                "lang": r.lang,
                "dimension": r.dimension,
                "delta_i_reference": r.delta_i,
                "delta_i_model": m.delta_i,
                "delta_delta_i": m.delta_i - r.delta_i,
                "pair_acc_reference": r.pair_acc,
                "pair_acc_model": m.pair_acc,
            }
            for r, m in pairs
        ]
        # literary and factual are never pooled: the factual group is the control, not more data
        for group in ordered((r.group for r, _ in pairs), GROUPS):
            in_group = [p for p in pairs if p[0].group == group]
            rows.append(_row(run.label, group, "all", "all", in_group, seed, n_resamples))
            for dim in ordered((r.dimension for r, _ in in_group), DIMENSIONS):
                sub = [p for p in in_group if p[0].dimension == dim]
                rows.append(_row(run.label, group, "dimension", dim, sub, seed, n_resamples))
            for lang in ordered((r.lang for r, _ in in_group), LANGS):
                sub = [p for p in in_group if p[0].lang == lang]
                rows.append(_row(run.label, group, "lang", lang, sub, seed, n_resamples))
            for stratum in ("up", "down"):  # the reference reader's surprise stratum
                sub = [p for p in in_group if p[0].stratum == stratum]
                if sub:
                    rows.append(_row(run.label, group, "stratum", f"S{'↑' if stratum == 'up' else '↓'}", sub, seed, n_resamples))
            scores.append(score_row(run.label, group, [r.contrast for r, _ in in_group], [m.contrast for _, m in in_group], seed))
        compared.append(run)
    if not compared:
        raise CompareError("nothing to compare: every run given is the reference")
    return {
        "reference": _run_info(reference),
        "runs": [_run_info(r) for r in compared],
        "settings": {
            "difference": "per item: ΔI(model) − ΔI(reference), bits, paired by item id",
            "seed": seed,
            "n_resamples": n_resamples,
            "ci": f"{stats.CONFIDENCE:.0%} percentile bootstrap of the mean",
            "wilcoxon": (
                "scipy.stats.wilcoxon one-sided (alternative='greater', H1: Δ(ΔI) > 0), "
                f"zero_method='{stats.WILCOXON_ZERO_METHOD}' (scipy default: zero differences are "
                f"dropped before ranking), method='{stats.WILCOXON_METHOD}'; "
                "all-zero differences: p = 1; n < 2: p = nan"
            ),
            "cohens_d": "mean of differences / sample sd of differences (ddof=1); nan if n < 2 or sd = 0",
            "pair_acc_change": "pair accuracy (model) − pair accuracy (reference) on the shared items",
        },
        "warnings": warnings,
        "missing": missing,
        "results": rows,
        "scores": scores,
        "surprise": {
            run.label: caption([it.point for it in run.items.values() if it.point is not None])
            for run in (reference, *compared)
        },
        "epochs": _epoch_points(compared, reference),
        "items": per_item,
    }


def _epoch_points(runs: Sequence[Run], reference: Run) -> list[dict]:
    """Pair accuracy per run and group on the items every run shares, for runs that carry an epoch."""
    if not any(r.epoch is not None for r in (*runs, reference)):
        return []
    shared = set(reference.items).intersection(*(r.items for r in runs))
    points = []
    for run in (reference, *runs):
        for group in ordered((reference.items[i].group for i in shared), GROUPS):
            accs = [run.items[i].pair_acc for i in shared if reference.items[i].group == group]
            points.append(
                {
                    "label": run.label,
                    "reference": run is reference,
                    "epoch": run.epoch,
                    "group": group,
                    "n": len(accs),
                    "pair_acc": _mean(accs),
                }
            )
    return points


