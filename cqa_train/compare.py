"""`cqa compare RUN... --reference RUN [-o OUT_DIR]`: paired comparison of lm-eval runs on CQA-Bench.

A run is what `lm_eval ... --output_path DIR --log_samples` wrote: DIR/<model_name_sanitized>/
results_<time>.json plus one samples_<task>_<time>.jsonl per leaf task. RUN may be DIR, the model
subdir, or a results file; with several timestamps the latest results file and its samples are used.
`LABEL=PATH` names a run in the report (default: the directory name).

Items are paired by id; per item Δ(ΔI) = ΔI(model) − ΔI(reference), in bits. Per model, per group
(literary, factual) and within each group per dimension and per language, the report gives n, the
mean Δ(ΔI) with a percentile bootstrap 95 % CI, a one-sided Wilcoxon signed-rank p (H1: Δ(ΔI) > 0),
paired Cohen's d and the change in pair accuracy. The math lives in cqa_train.stats.

Also here: `render_token_heatmap`, a pure HTML renderer of per-token Δ log p before/after training.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cqa_train import stats
from cqa_train.compare_scores import score_row, score_table
from leaderboard.surprise_plot import SurprisePoint, caption, plot_surprise, point_from_sample

# lm-eval's date_id: datetime.now().isoformat() with ':' replaced by '-' (microseconds may be absent).
_DATE = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"
_RESULTS_RE = re.compile(rf"^(?P<stem>.+)_(?P<date>{_DATE})\.json$")
_EPOCH_RE = re.compile(r"(?<![a-z])epoch[-_=]?(\d+)(?!\d)", re.IGNORECASE)

GROUPS = ("literary", "factual")
DIMENSIONS = ("ethos", "mythos", "lexis", "dianoia")
LANGS = ("en", "zh")
N_EXAMPLE_IDS = 5  # ids quoted in a warning; the JSON carries all of them


class CompareError(ValueError):
    """Bad or incompatible runs; `cqa` prints the message as one line (no traceback)."""


@dataclass(frozen=True)
class Item:
    id: str
    task: str
    group: str
    lang: str
    dimension: str
    delta_i: float
    pair_acc: float
    point: SurprisePoint | None = None  # (ΔS, ΔI) for the surprise plot
    contrast: tuple[str | None, float] | None = None  # [stratum, contrast win]; None: no foreign Y'

    @property
    def stratum(self) -> str | None:
        if self.point is None or self.point.delta_s == 0:
            return None
        return "up" if self.point.delta_s > 0 else "down"


@dataclass
class Run:
    label: str
    given: str  # the path as typed, for messages
    results_file: Path
    model_name: str
    model_args: Any
    epoch: int | float | None
    bench: dict[str, dict[str, Any]]  # leaf task -> {bench_version, data_sha256, data_file}
    items: dict[str, Item]
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.label} ({self.results_file})"


def _warn(msgs: list[str], msg: str) -> None:
    msgs.append(msg)
    print(f"cqa compare: warning: {msg}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------- reading


def _results_in(d: Path) -> list[tuple[str, Path]]:
    out = []
    for p in d.glob("*.json"):
        m = _RESULTS_RE.match(p.name)
        if m:
            out.append((m["date"], p))
    return out


def find_results_file(path: Path) -> Path:
    """The latest results JSON of a run given as output dir, model subdir or results file."""
    if path.is_file():
        if not _RESULTS_RE.match(path.name):
            raise CompareError(f"{path}: not an lm-eval results file (expected results_<time>.json)")
        return path
    if not path.is_dir():
        raise CompareError(f"{path}: no such run directory")
    found = _results_in(path)
    if not found:
        subdirs = sorted(d for d in path.iterdir() if d.is_dir() and _results_in(d))
        if len(subdirs) > 1:
            names = ", ".join(d.name for d in subdirs)
            raise CompareError(f"{path} holds results of several models ({names}); pass one of those dirs")
        if subdirs:
            found = _results_in(subdirs[0])
    if not found:
        raise CompareError(f"{path}: no lm-eval results_<time>.json here or one level down")
    # ISO timestamps of one format sort as strings; a missing ".micro" part sorts first, as it should
    return max(found, key=lambda t: t[0])[1]


def _model_args_dict(model_args: Any) -> dict[str, Any]:
    if isinstance(model_args, Mapping):
        return dict(model_args)
    if isinstance(model_args, str):  # older lm-eval logs keep the CLI string "k=v,k=v"
        pairs = (part.split("=", 1) for part in model_args.split(",") if "=" in part)
        return {k.strip(): v.strip() for k, v in pairs}
    return {}


def _number(value: Any) -> int | float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(x):
        return None
    return int(x) if x.is_integer() else x


def parse_epoch(model_args: Any, metadata: Iterable[Mapping[str, Any]] = ()) -> int | float | None:
    """Training epoch of a run: a `cqa_epoch` key (model_args or task metadata), else a path component
    like `epoch-3` / `epoch_3` in model_args (peft adapter first, then pretrained, then the rest)."""
    args = _model_args_dict(model_args)
    for source in (args, *metadata):
        if "cqa_epoch" in source and _number(source["cqa_epoch"]) is not None:
            return _number(source["cqa_epoch"])
    keys = [k for k in ("peft", "pretrained") if k in args] + sorted(
        k for k in args if k not in ("peft", "pretrained")
    )
    for key in keys:
        value = args[key]
        if not isinstance(value, str):
            continue
        # the deepest matching path component wins: runs/epoch-1/../epoch-3 is epoch 3
        for part in reversed(re.split(r"[/\\]", value)):
            m = _EPOCH_RE.search(part)
            if m:
                return int(m.group(1))
    return None


def _item_from_sample(row: Mapping[str, Any], task: str) -> Item | None:
    item = row.get("cqa_item")
    doc = row.get("doc") or {}
    if not isinstance(item, Mapping):
        return None  # e.g. cqa_match rows: no Calibrated Surprise per item
    delta_i = item.get("delta_i", row.get("delta_i"))
    if delta_i is None:
        return None
    delta_i = float(delta_i)
    pair_acc = row.get("pair_acc")
    if pair_acc is None:  # the metric's own rule: 1 if ΔI > 0, 0.5 on a tie
        pair_acc = 1.0 if delta_i > 0 else 0.5 if delta_i == 0 else 0.0
    contrast = row.get("contrast_pair_acc_balanced")
    return Item(
        id=str(item.get("id", doc.get("id"))),
        task=task,
        group=str(doc.get("group", "?")),
        lang=str(doc.get("lang", "?")),
        dimension=str(doc.get("dimension", "?")),
        delta_i=delta_i,
        pair_acc=float(pair_acc),
        point=point_from_sample(row),
        contrast=(contrast[0], float(contrast[1])) if isinstance(contrast, list) and len(contrast) == 2 else None,
    )


def load_run(spec: str, label: str | None = None) -> Run:
    """Read one run: latest results JSON, its per-task metadata and every CQA item of its samples."""
    given = spec
    if label is None and "=" in spec and not Path(spec).exists():
        maybe_label, maybe_path = spec.split("=", 1)
        if Path(maybe_path).exists() and maybe_label:
            label, given = maybe_label, maybe_path
    results_file = find_results_file(Path(given))
    date = _RESULTS_RE.match(results_file.name)["date"]
    try:
        results = json.loads(results_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CompareError(f"{results_file}: not valid JSON ({e})") from e
    config = results.get("config") or {}
    configs = results.get("configs") or {}
    run_warnings: list[str] = []

    bench: dict[str, dict[str, Any]] = {}
    items: dict[str, Item] = {}
    duplicates: list[str] = []
    suffix = f"_{date}.jsonl"
    samples_files = sorted(results_file.parent.glob(f"samples_*{suffix}"))
    for sf in samples_files:
        task = sf.name[len("samples_") : -len(suffix)]
        meta = (configs.get(task) or {}).get("metadata") or {}
        n_task = 0
        with sf.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise CompareError(f"{sf}:{lineno}: not valid JSON ({e})") from e
                it = _item_from_sample(row, task)
                if it is None:
                    continue
                n_task += 1
                if it.id in items:
                    duplicates.append(it.id)  # same item in two tasks of one run: first one wins
                    continue
                items[it.id] = it
        if n_task:
            bench[task] = {k: meta.get(k) for k in ("bench_version", "data_sha256", "data_file")}
    if not items:
        raise CompareError(
            f"{results_file.parent}: no CQA per-item samples for {results_file.name} "
            "(run lm_eval with --log_samples on cqa_* tasks)"
        )
    if duplicates:
        _warn(
            run_warnings,
            f"{given}: {len(duplicates)} item id(s) appear in more than one task; kept the first "
            f"(e.g. {', '.join(duplicates[:N_EXAMPLE_IDS])})",
        )
    metadata = [(configs.get(t) or {}).get("metadata") or {} for t in bench]
    model_args = config.get("model_args")
    if label is None:
        label = Path(given).resolve().name if Path(given).is_dir() else results_file.parent.name
    return Run(
        label=label,
        given=given,
        results_file=results_file,
        model_name=str(results.get("model_name") or _model_args_dict(model_args).get("pretrained", "?")),
        model_args=model_args,
        epoch=parse_epoch(model_args, metadata),
        bench=bench,
        items=items,
        warnings=run_warnings,
    )


# ---------------------------------------------------------------------------------------------- checks


def _fmt_meta(meta: Mapping[str, Any]) -> str:
    return f"bench_version {meta.get('bench_version')!r}, data_sha256 {meta.get('data_sha256')!r}"


def check_same_bench(reference: Run, run: Run) -> list[str]:
    """Refuse runs on different benchmark versions or data; return warnings for unverifiable tasks.

    Checked both per shared task name and per paired item (the tasks its id came from), so renamed
    tasks over changed data are caught too.
    """
    pairs = {(t, t) for t in set(reference.bench) & set(run.bench)}
    pairs |= {(reference.items[i].task, run.items[i].task) for i in set(reference.items) & set(run.items)}
    problems, unverified = [], []
    for t_ref, t_run in sorted(pairs):
        m_ref, m_run = reference.bench[t_ref], run.bench[t_run]
        for key in ("bench_version", "data_sha256"):
            a, b = m_ref.get(key), m_run.get(key)
            if a is None or b is None:
                unverified.append(t_run if b is None else t_ref)
            elif str(a) != str(b):
                problems.append(
                    f"reference {reference.describe()} task {t_ref} has {_fmt_meta(m_ref)}; "
                    f"{run.describe()} task {t_run} has {_fmt_meta(m_run)}"
                )
                break
    if problems:
        raise CompareError(
            "runs are on different benchmark versions or data, refusing to compare: " + " | ".join(problems)
        )
    out: list[str] = []
    if unverified:
        names = ", ".join(sorted(set(unverified)))
        _warn(
            out,
            f"{run.label} vs reference: no bench_version/data_sha256 metadata for {names}; data not verified",
        )
    return out


def _check_docs_agree(reference: Run, run: Run, ids: Iterable[str]) -> None:
    for i in ids:
        a, b = reference.items[i], run.items[i]
        if (a.group, a.lang, a.dimension) != (b.group, b.lang, b.dimension):
            raise CompareError(
                f"item {i} is {a.group}/{a.lang}/{a.dimension} in {reference.describe()} but "
                f"{b.group}/{b.lang}/{b.dimension} in {run.describe()}: not the same benchmark"
            )


# ---------------------------------------------------------------------------------------------- analysis


def _ordered(values: Iterable[str], known: Sequence[str]) -> list[str]:
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
            _warn(warnings, f"{run.given} is the reference run itself; skipped")
            continue
        warnings += check_same_bench(reference, run)
        only_ref = sorted(set(reference.items) - set(run.items))
        only_run = sorted(set(run.items) - set(reference.items))
        common = sorted(set(reference.items) & set(run.items))
        if not common:
            raise CompareError(f"{run.describe()} and reference {reference.describe()} share no item ids")
        _check_docs_agree(reference, run, common)
        missing[run.label] = {"only_in_reference": only_ref, "only_in_model": only_run}
        for ids, where in ((only_ref, f"missing from {run.label}"), (only_run, "missing from the reference")):
            if ids:
                _warn(
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
        for group in _ordered((r.group for r, _ in pairs), GROUPS):
            in_group = [p for p in pairs if p[0].group == group]
            rows.append(_row(run.label, group, "all", "all", in_group, seed, n_resamples))
            for dim in _ordered((r.dimension for r, _ in in_group), DIMENSIONS):
                sub = [p for p in in_group if p[0].dimension == dim]
                rows.append(_row(run.label, group, "dimension", dim, sub, seed, n_resamples))
            for lang in _ordered((r.lang for r, _ in in_group), LANGS):
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
        for group in _ordered((reference.items[i].group for i in shared), GROUPS):
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
    groups = _ordered((it["group"] for items in result["items"].values() for it in items), GROUPS)
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
    for k, group in enumerate(_ordered((p["group"] for p in points), GROUPS)):
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


# ---------------------------------------------------------------------------------------------- per-token view


TOKEN_VIEW_TITLE = "Per-token Δ log p: log p(x_t | H, Y, x<t) − log p(x_t | H, x<t)"


def _cell_style(value: float, scale: float) -> str:
    if not math.isfinite(value):
        return "background:#ddd"
    a = 0.0 if scale == 0 else min(1.0, abs(value) / scale)
    # red: the context raised log p of the token; blue: lowered it
    rgb = "214,39,40" if value > 0 else "31,119,180"
    return f"background:rgba({rgb},{a:.3f})"


def _token_row(tokens: Sequence[tuple[str, float]], scale: float, unit: str) -> str:
    spans = []
    for text, value in tokens:
        v = float(value)
        tip = f"{v:+.3f} {unit}" if math.isfinite(v) else "n/a"
        spans.append(
            f'<span style="{_cell_style(v, scale)}" title="{html.escape(tip)}">{html.escape(str(text))}</span>'
        )
    return "".join(spans)


def token_heatmap_section(
    before: Sequence[tuple[str, float]],
    after: Sequence[tuple[str, float]],
    *,
    title: str = TOKEN_VIEW_TITLE,
    labels: tuple[str, str] = ("before training", "after training"),
    unit: str = "nats",
) -> str:
    """One passage before and after training, as an HTML fragment (pure: no model, no I/O).

    Each token is an escaped <span> coloured by the sign of its value (red > 0, blue < 0), opacity by
    |value| on one scale shared by both rows so they can be compared. When both lists tokenize the
    passage identically, a third row shows the change (after − before).
    """
    rows = [(labels[0], list(before)), (labels[1], list(after))]
    for name, toks in rows:
        for t in toks:
            if len(t) != 2:
                raise ValueError(f"{name}: each token must be (text, delta_logprob), got {t!r}")
    finite = [abs(float(v)) for _, toks in rows for _, v in toks if math.isfinite(float(v))]
    scale = max(finite, default=0.0)
    body = [f"<h3>{html.escape(title)}</h3>"]
    body.append(
        f'<p class="legend"><span style="{_cell_style(1, 1)}">&nbsp;raised&nbsp;</span> '
        f'<span style="{_cell_style(-1, 1)}">&nbsp;lowered&nbsp;</span> '
        f"full colour = {scale:.3f} {html.escape(unit)}; hover a token for its value</p>"
    )
    for name, toks in rows:
        body.append(
            f'<div class="row"><div class="label">{html.escape(name)}</div><div class="text">{_token_row(toks, scale, unit)}</div></div>'
        )
    if [t for t, _ in before] == [t for t, _ in after] and before:
        change = [(t, float(a) - float(b)) for (t, b), (_, a) in zip(before, after, strict=True)]
        c_scale = max((abs(v) for _, v in change if math.isfinite(v)), default=0.0)
        body.append(
            f'<div class="row"><div class="label">change ({html.escape(labels[1])} − {html.escape(labels[0])}); '
            f"full colour = {c_scale:.3f} {html.escape(unit)}</div>"
            f'<div class="text">{_token_row(change, c_scale, unit)}</div></div>'
        )
    return "<section>\n" + "\n".join(body) + "\n</section>"


def render_token_page(sections: Sequence[str], title: str, intro: str = "") -> str:
    """A self-contained HTML page around fragments from `token_heatmap_section` (`intro` is escaped)."""
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:1em auto}"
        ".row{margin:1em 0}.label{font-size:80%;color:#555}"
        ".text{white-space:pre-wrap;line-height:1.7;font-family:serif}"
        ".legend{font-size:80%}section{border-top:1px solid #ccc;margin-top:1.5em}"
    )
    head = f"<h2>{html.escape(title)}</h2>\n" + (f"<p>{html.escape(intro)}</p>\n" if intro else "")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
        + html.escape(title)
        + f"</title><style>{style}</style></head><body>\n"
        + head
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def render_token_heatmap(before: Sequence[tuple[str, float]], after: Sequence[tuple[str, float]], **options: Any) -> str:
    """Self-contained HTML heat-map of one passage; `options` as for `token_heatmap_section`."""
    title = options.get("title", TOKEN_VIEW_TITLE)
    return render_token_page([token_heatmap_section(before, after, **options)], title)


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
