"""Reading lm-eval output dirs: `results_<time>.json` and the matching `samples_<task>_<time>.jsonl`.

Nothing here trusts its input: a file that does not parse, or a row without the numbers it
should have, is reported through `warn` and left out; the rest of the leaderboard still builds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cqa_tasks.metric import METRICS as METRIC_SPECS
from cqa_tasks.schema import GROUP_OF_TASK_PREFIX
from leaderboard.identity import (
    display_name,
    identity_key,
    normalize_backend,
    normalize_dtype,
    normalize_model_args,
    parse_model_args,
)
from leaderboard.lm_eval_output import (
    LEAF_TASK,
    OutputError,
    SampleLineError,
    date_from_name,
    number,
    read_results,
    sample_rows,
    samples_path,
)
from leaderboard.stats import Estimate, make_estimate
from leaderboard.surprise_plot import SurprisePoint, point_from_sample

Warn = Callable[[Path, str], None]  # (file, message)

METRICS = tuple(METRIC_SPECS)  # one source of truth: the metric module
PROPORTIONS = frozenset(name for name, spec in METRIC_SPECS.items() if spec.unit == "acc")
# Per-item values kept from samples files: every metric but the balanced ones, which are
# recomputed from their two strata after pooling (table.cell_estimate).
ITEM_METRICS = tuple(name for name, spec in METRIC_SPECS.items() if spec.pooling != "balanced")
UNKNOWN = "unknown"
MATCH_TASK = "cqa_match"


@dataclass(frozen=True)
class Leaf:
    """One leaf task of one run: means and stderrs from the results file, items from samples."""

    task: str
    group: str  # "literary" | "factual"
    lang: str
    dimension: str
    bench_version: str
    data_sha256: str
    data_file: str
    n: int
    means: dict[str, float]
    stderrs: dict[str, float | None]
    samples: dict[str, list[float]] | None = None
    points: tuple[SurprisePoint, ...] = ()  # (ΔS, ΔI) per item, from the samples' cqa_item records

    @property
    def section(self) -> tuple[str, str]:
        return (self.bench_version, self.data_sha256)


@dataclass(frozen=True)
class Run:
    path: Path
    label: str  # the file as shown on the page: relative to the dir it was found under
    date: float
    backend: str
    args: dict[str, str]
    identity: str
    name: str
    num_parameters: int | None
    dtype: str
    lm_eval_version: str
    limit: float | None
    leaves: dict[str, Leaf] = field(default_factory=dict)
    match: Estimate | None = None  # cqa_match accuracy (does the reader read Y at all?), when it ran
    reference: bool = False  # shipped with the package (leaderboard/reference/), not the user's run
    eval_seconds: float | None = None  # lm-eval's total_evaluation_time_seconds

    @property
    def date_text(self) -> str:
        if self.date <= 0:
            return UNKNOWN
        return datetime.fromtimestamp(self.date, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _leaf_size(row: dict, n_samples: Any) -> int | None:
    for value in (row.get("cqa_item,none"), row.get("sample_len")):
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    if isinstance(n_samples, dict) and isinstance(n_samples.get("effective"), int):
        return n_samples["effective"] or None
    return None


def read_leaf(task: str, row: Any, task_config: Any, n_samples: Any) -> Leaf | str:
    """The Leaf of one results row, or the reason it cannot be used."""
    match = LEAF_TASK.match(task)
    if not match or not isinstance(row, dict):
        return "not a CQA-Bench leaf row"
    n = _leaf_size(row, n_samples)
    if n is None:
        return "no item count (cqa_item / sample_len)"
    means: dict[str, float] = {}
    stderrs: dict[str, float | None] = {}
    for metric in METRICS:
        mean = number(row.get(f"{metric},none"))
        if mean is None:
            continue
        means[metric] = mean
        stderrs[metric] = number(row.get(f"{metric}_stderr,none"))
    if "pair_acc" not in means:
        return "no numeric pair_acc"
    meta = task_config.get("metadata") if isinstance(task_config, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    return Leaf(
        task=task,
        group=GROUP_OF_TASK_PREFIX[match.group(1)],
        lang=match.group(2),
        dimension=match.group(3),
        bench_version=str(meta.get("bench_version") or UNKNOWN),
        data_sha256=str(meta.get("data_sha256") or UNKNOWN),
        data_file=str(meta.get("data_file") or UNKNOWN),
        n=n,
        means=means,
        stderrs=stderrs,
    )


def read_samples(path: Path, n: int) -> dict[str, list[float]]:
    """Per-item metric values of a samples file; raises ValueError when it is unusable.

    All or nothing: a truncated file would silently shrink and bias the sample. Values that are
    defined only for some items (a surprise stratum, the foreign-Y control) keep just those items;
    such a metric is usable when every item carries it, defined or None.
    """
    columns: dict[str, list[float]] = {m: [] for m in ITEM_METRICS}
    carried = dict.fromkeys(ITEM_METRICS, 0)
    try:
        rows = list(sample_rows(path))
    except SampleLineError as e:
        raise ValueError(f"line {e.line}: {e.msg}") from None
    if len(rows) != n:
        raise ValueError(f"{len(rows)} items, the results file says {n}")
    for lineno, record in rows:
        if not isinstance(record, dict):
            raise ValueError(f"line {lineno}: not an object")
        for metric in ITEM_METRICS:
            if metric not in record:
                continue
            value = number(record[metric])
            if value is not None:
                columns[metric].append(value)
                carried[metric] += 1
            elif record[metric] is None and METRIC_SPECS[metric].pooling == "defined":
                carried[metric] += 1
    # A metric missing from any item is dropped for all: its mean would be over other items.
    usable = {m: v for m, v in columns.items() if carried[m] == n}
    if "pair_acc" not in usable:
        raise ValueError("no per-item pair_acc")
    return usable


def label_for(root: Path, path: Path) -> str:
    """The file relative to the given dir, prefixed by that dir's name: no machine-specific prefix."""
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = path.name
    return f"{root.name}/{rel}" if root.name else rel


def load_run(root: Path, path: Path, warn: Warn) -> Run | str:
    """One results file as a Run with its CQA-Bench leaves, or why the whole file is skipped.

    Problems with single tasks or samples files go to `warn`; the rest of the file is kept.
    """
    try:
        data = read_results(path)
    except OutputError as e:
        return str(e)

    configs = data.get("configs") if isinstance(data.get("configs"), dict) else {}
    n_samples = data.get("n-samples") if isinstance(data.get("n-samples"), dict) else {}
    leaves: dict[str, Leaf] = {}
    for task in sorted(data["results"]):
        if not LEAF_TASK.match(task):
            continue  # groups are recomputed from leaves; other tasks are not ours
        leaf = read_leaf(task, data["results"][task], configs.get(task), n_samples.get(task))
        if isinstance(leaf, str):
            warn(path, f"ignoring task {task}: {leaf}")
            continue
        samples = samples_path(path, task)
        if samples is not None:
            try:
                leaf = _with_samples(leaf, read_samples(samples, leaf.n), read_points(samples))
            except (OSError, UnicodeDecodeError, ValueError) as e:
                warn(samples, f"samples file ignored ({e}); using the results file's stderr")
        leaves[task] = leaf
    if not leaves:
        return "no CQA-Bench tasks (cqa_creative_* / cqa_factual_*) in it"

    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    model_dtype = config.get("model_dtype")
    args = normalize_model_args(parse_model_args(config.get("model_args")), model_dtype)
    if not args and data.get("model_name"):
        args = {"pretrained": str(data["model_name"])}
    backend = normalize_backend(config.get("model"))
    date = number(data.get("date")) or date_from_name(path)
    params = config.get("model_num_parameters")
    return Run(
        path=path,
        label=label_for(root, path),
        date=date,
        backend=backend,
        args=args,
        identity=identity_key(backend, args),
        name=display_name(args),
        num_parameters=params if isinstance(params, int) and not isinstance(params, bool) else None,
        dtype=args.get("dtype") or (normalize_dtype(model_dtype) if model_dtype else UNKNOWN),
        lm_eval_version=str(data.get("lm_eval_version") or UNKNOWN),
        limit=number(config.get("limit")),
        leaves=leaves,
        match=read_match(data["results"].get(MATCH_TASK), n_samples.get(MATCH_TASK)),
        eval_seconds=number(data.get("total_evaluation_time_seconds"), text=True),  # lm-eval writes a string
    )


def read_match(row: Any, n_samples: Any) -> Estimate | None:
    """cqa_match's accuracy with its interval from the results row; None when absent or unusable."""
    if not isinstance(row, dict):
        return None
    mean = number(row.get("match_acc,none"))
    if mean is None or not 0.0 <= mean <= 1.0:
        return None
    n = _leaf_size(row, n_samples) or 0
    return make_estimate(mean, number(row.get("match_acc_stderr,none")), n, (0.0, 1.0))


def read_points(path: Path) -> tuple[SurprisePoint, ...]:
    """(ΔS, ΔI) of every item of a samples file that carries them (read_samples has vetted the file)."""
    rows = (row for _, row in sample_rows(path))
    return tuple(p for row in rows if isinstance(row, dict) and (p := point_from_sample(row)) is not None)


def _with_samples(leaf: Leaf, samples: dict[str, list[float]], points: tuple[SurprisePoint, ...] = ()) -> Leaf:
    return Leaf(**{**leaf.__dict__, "samples": samples, "points": points})
