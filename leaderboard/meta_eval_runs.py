"""`cqa meta-eval`, the data: runs of `cqa_human_pairs` / `cqa_human_ratings` as sections of readers.

A section is one task on one data file (by sha256): its readers (one per model identity, the latest
run of each, ordered by size) sit side by side. Values come from the results files alone, read
through leaderboard.lm_eval_output; the samples files are not needed. Pure apart from reading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cqa_tasks.human_metric import (
    HUMAN_ITEM_METRIC,
    PAIR_STATS,
    RATING_STATS,
    SCORES,
    pair_metric,
    rating_metric,
)
from leaderboard.identity import (
    disambiguate,
    display_name,
    format_params,
    identity_key,
    normalize_backend,
    normalize_model_args,
    parse_model_args,
)
from leaderboard.lm_eval_output import (
    OutputError,
    date_from_name,
    find_results_files,
    number,
    read_results,
    task_metadata,
)
from leaderboard.reading import label_for

KINDS = {"cqa_human_pairs": "pairs", "cqa_human_ratings": "ratings"}
FILTER = "none"  # lm-eval's key suffix for a task without filters


@dataclass(frozen=True)
class Interval:
    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class ReaderRun:
    """One reader's run of one human-judgment task: what a column of the meta-eval table shows."""

    path: Path
    source: str  # the results file as reports show it: relative to the dir it was found under
    task: str
    kind: str  # "pairs" | "ratings"
    identity: str
    name: str
    args: dict[str, str]
    num_parameters: int | None
    date: float
    data_file: str
    data_sha256: str
    n: int | None
    criteria: tuple[str, ...]
    values: dict[str, Interval] = field(default_factory=dict)  # "<score>" or "<stat>:<score>:<criterion>" keys

    @property
    def size(self) -> str:
        return format_params(self.num_parameters)


@dataclass
class Section:
    task: str
    kind: str
    data_file: str
    data_sha256: str
    criteria: list[str]
    readers: list[ReaderRun]
    labels: list[str]

    @property
    def slug(self) -> str:
        return f"{self.task}-{self.data_sha256[:12]}"


def _kind(task: str, meta: dict) -> str | None:
    kind = meta.get("human_kind")
    return kind if kind in ("pairs", "ratings") else KINDS.get(task)


def _intervals(row: dict, kind: str, criteria: Iterable[str]) -> dict[str, Interval]:
    def get(name: str) -> float | None:
        return number(row.get(f"{name},{FILTER}"))

    out: dict[str, Interval] = {}
    for score in SCORES:
        if kind == "pairs":
            out[score] = Interval(*(get(pair_metric(stat, score)) for stat in PAIR_STATS))
            continue
        for criterion in criteria:
            for head in ("tau", "rho"):
                stats = [s for s in RATING_STATS if s.startswith(head)]
                out[f"{head}:{score}:{criterion}"] = Interval(*(get(rating_metric(s, score, criterion)) for s in stats))
    return out


def read_reader_runs(path: Path, data: dict, source: str = "") -> list[ReaderRun]:
    """Every human-judgment task of one parsed results file."""
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    args = normalize_model_args(parse_model_args(config.get("model_args")), config.get("model_dtype"))
    if not args and data.get("model_name"):
        args = {"pretrained": str(data["model_name"])}
    backend = normalize_backend(config.get("model"))
    params = config.get("model_num_parameters")
    runs = []
    for task, row in sorted(data["results"].items()):
        meta = task_metadata(data, task)
        kind = _kind(task, meta)
        if kind is None or not isinstance(row, dict):
            continue
        criteria = tuple(str(c) for c in meta.get("criteria") or ()) if kind == "ratings" else ()
        n = row.get(f"{HUMAN_ITEM_METRIC},{FILTER}")
        runs.append(
            ReaderRun(
                path=path,
                source=source or path.name,
                task=task,
                kind=kind,
                identity=identity_key(backend, args),
                name=display_name(args),
                args=args,
                num_parameters=params if isinstance(params, int) and not isinstance(params, bool) else None,
                date=number(data.get("date")) or date_from_name(path),
                data_file=str(meta.get("data_file") or "unknown"),
                data_sha256=str(meta.get("data_sha256") or "unknown"),
                n=n if isinstance(n, int) and not isinstance(n, bool) else None,
                criteria=criteria,
                values=_intervals(row, kind, criteria),
            )
        )
    return runs


def read_runs(dirs: Iterable[Path], warn: Callable[[str], None]) -> list[ReaderRun]:
    """The human-judgment runs under the given lm-eval output dirs; unreadable files are warned about."""
    dirs = [Path(d) for d in dirs]
    missing = [str(d) for d in dirs if not d.exists()]
    if missing:
        raise OutputError("no such file or directory: " + ", ".join(missing))
    runs = []
    for root, path in find_results_files(dirs):
        try:
            runs += read_reader_runs(path, read_results(path), label_for(root, path))
        except OutputError as e:
            warn(f"skipping {path}: {e}")
    return runs


def _size_key(run: ReaderRun) -> tuple:
    # smaller readers first; unknown sizes last, then by name
    return (run.num_parameters is None, run.num_parameters or 0, run.name, run.identity)


def build_sections(runs: Iterable[ReaderRun]) -> list[Section]:
    """One section per (task, data file); in each, the latest run of every reader, smallest first."""
    latest: dict[tuple[str, str, str], ReaderRun] = {}
    for run in runs:
        key = (run.task, run.data_sha256, run.identity)
        if key not in latest or (run.date, str(run.path)) > (latest[key].date, str(latest[key].path)):
            latest[key] = run
    grouped: dict[tuple[str, str], list[ReaderRun]] = {}
    for (task, sha, _), run in latest.items():
        grouped.setdefault((task, sha), []).append(run)
    sections = []
    for (task, sha), readers in sorted(grouped.items()):
        readers.sort(key=_size_key)
        criteria = list(dict.fromkeys(c for r in readers for c in r.criteria))
        labels = disambiguate([r.name for r in readers], [r.args for r in readers])
        files = sorted({r.data_file for r in readers})
        sections.append(Section(task, readers[0].kind, ", ".join(files), sha, criteria, readers, labels))
    return sections
