"""The runs `cqa compare` pairs: one lm-eval run's CQA items (by id) and the checks that two runs are comparable.

A run is read through leaderboard.lm_eval_output, the reader `cqa leaderboard` uses too.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cqa_tasks.metric import win
from leaderboard.identity import parse_model_args
from leaderboard.lm_eval_output import (
    OutputError,
    latest_results_file,
    number,
    read_results,
    sample_rows,
    samples_files,
    task_metadata,
)
from leaderboard.surprise_plot import SurprisePoint, point_from_sample

_EPOCH_RE = re.compile(r"(?<![a-z])epoch[-_=]?(\d+)(?!\d)", re.IGNORECASE)

N_EXAMPLE_IDS = 5  # ids quoted in a warning; the JSON carries all of them


class CompareError(OutputError):
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


def warn(msgs: list[str], msg: str) -> None:
    msgs.append(msg)
    print(f"cqa compare: warning: {msg}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------- reading


def _epoch_number(value: Any) -> int | float | None:
    x = number(value, text=True)
    return None if x is None else int(x) if x.is_integer() else x


def parse_epoch(model_args: Any, metadata: Iterable[Mapping[str, Any]] = ()) -> int | float | None:
    """Training epoch of a run: a `cqa_epoch` key (model_args or task metadata), else a path component
    like `epoch-3` / `epoch_3` in model_args (peft adapter first, then pretrained, then the rest)."""
    args = parse_model_args(model_args if isinstance(model_args, Mapping | str) else None)
    for source in (args, *metadata):
        if "cqa_epoch" in source and _epoch_number(source["cqa_epoch"]) is not None:
            return _epoch_number(source["cqa_epoch"])
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


def _value(row: Mapping[str, Any], field: str, raw: Any, where: str) -> float:
    """A per-item value that the statistics will use: a finite number, or CompareError naming
    the file, line, item and field (a NaN would silently poison every mean and test)."""
    value = number(raw)
    if value is None:
        item = row.get("cqa_item") if isinstance(row.get("cqa_item"), Mapping) else {}
        doc = row.get("doc") if isinstance(row.get("doc"), Mapping) else {}
        rid = item.get("id", doc.get("id", "?"))
        raise CompareError(f"{where}: {field}: item {str(rid)[:80]!r}: not a finite number ({str(raw)[:40]!r})")
    return value


def _item_from_sample(row: Mapping[str, Any], task: str, where: str = "<samples>") -> Item | None:
    item = row.get("cqa_item")
    doc = row.get("doc") if isinstance(row.get("doc"), Mapping) else {}
    if not isinstance(item, Mapping):
        return None  # e.g. cqa_match rows: no Calibrated Surprise per item
    field = "cqa_item.delta_i" if "delta_i" in item else "delta_i"
    raw = item.get("delta_i", row.get("delta_i"))
    if raw is None:
        return None
    delta_i = _value(row, field, raw, where)
    pair_acc = row.get("pair_acc")
    pair_acc = win(delta_i, 0.0) if pair_acc is None else _value(row, "pair_acc", pair_acc, where)  # None: the metric's own rule
    contrast = row.get("contrast_pair_acc_balanced")
    return Item(
        id=str(item.get("id", doc.get("id"))),
        task=task,
        group=str(doc.get("group", "?")),
        lang=str(doc.get("lang", "?")),
        dimension=str(doc.get("dimension", "?")),
        delta_i=delta_i,
        pair_acc=pair_acc,
        point=point_from_sample(row),
        contrast=(contrast[0], number(contrast[1]))
        if isinstance(contrast, list) and len(contrast) == 2 and number(contrast[1]) is not None else None,
    )


def load_run(spec: str, label: str | None = None) -> Run:
    """Read one run: latest results JSON, its per-task metadata and every CQA item of its samples."""
    given = spec
    if label is None and "=" in spec and not Path(spec).exists():
        maybe_label, maybe_path = spec.split("=", 1)
        if Path(maybe_path).exists() and maybe_label:
            label, given = maybe_label, maybe_path
    try:
        results_file = latest_results_file(Path(given))
    except OutputError as e:
        raise CompareError(str(e)) from None
    try:
        results = read_results(results_file)
    except OutputError as e:
        raise CompareError(f"{results_file}: {e}") from None
    # a results file names a run; its samples files are read below and must be readable too
    config = results.get("config") if isinstance(results.get("config"), dict) else {}
    run_warnings: list[str] = []

    bench: dict[str, dict[str, Any]] = {}
    items: dict[str, Item] = {}
    duplicates: list[str] = []
    for task, path in samples_files(results_file).items():
        meta = task_metadata(results, task)
        n_task = 0
        for lineno, row in sample_rows(path):
            it = _item_from_sample(row, task, f"{path}:{lineno}") if isinstance(row, Mapping) else None
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
        warn(
            run_warnings,
            f"{given}: {len(duplicates)} item id(s) appear in more than one task; kept the first "
            f"(e.g. {', '.join(duplicates[:N_EXAMPLE_IDS])})",
        )
    metadata = [task_metadata(results, t) for t in bench]
    model_args = config.get("model_args")
    if label is None:
        label = Path(given).resolve().name if Path(given).is_dir() else results_file.parent.name
    return Run(
        label=label,
        given=given,
        results_file=results_file,
        model_name=str(results.get("model_name") or parse_model_args(model_args if isinstance(model_args, Mapping | str) else None).get("pretrained", "?")),
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
        warn(
            out,
            f"{run.label} vs reference: no bench_version/data_sha256 metadata for {names}; data not verified",
        )
    return out


def check_docs_agree(reference: Run, run: Run, ids: Iterable[str]) -> None:
    for i in ids:
        a, b = reference.items[i], run.items[i]
        if (a.group, a.lang, a.dimension) != (b.group, b.lang, b.dimension):
            raise CompareError(
                f"item {i} is {a.group}/{a.lang}/{a.dimension} in {reference.describe()} but "
                f"{b.group}/{b.lang}/{b.dimension} in {run.describe()}: not the same benchmark"
            )


