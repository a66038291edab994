"""From runs to leaderboard tables: sections per benchmark version, latest run per identity, cells, ranks.

Pure data; the renderers only format what is decided here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cqa_tasks.metric import METRICS as METRIC_SPECS
from cqa_tasks.metric import PRIMARY_METRIC
from cqa_tasks.schema import DIMENSIONS, LANGS
from leaderboard.identity import disambiguate
from leaderboard.reading import METRICS, PROPORTIONS, UNKNOWN, Leaf, Run
from leaderboard.stats import (
    Estimate,
    balanced_estimate,
    estimate_from_values,
    format_rank,
    make_estimate,
    pool_estimates,
    rank_intervals,
)

# Cell name -> (group, lang or None, dimension or None). None pools across that axis.
CELLS: dict[str, tuple[str, str | None, str | None]] = {
    "literary": ("literary", None, None),
    "factual": ("factual", None, None),
    **{f"literary_{lang}": ("literary", lang, None) for lang in LANGS},
    **{f"literary_{dim}": ("literary", None, dim) for dim in DIMENSIONS},
    **{f"factual_{lang}": ("factual", lang, None) for lang in LANGS},
    **{f"factual_{dim}": ("factual", None, dim) for dim in DIMENSIONS},
}
# Leaf tasks a complete cell pools: 2 languages x 4 dimensions for a group.
FULL_LEAVES = {
    name: (1 if lang else len(LANGS)) * (1 if dim else len(DIMENSIONS))
    for name, (_, lang, dim) in CELLS.items()
}
BASELINES = ("acc_cond_only", "acc_uncond_only", "acc_overlap")
RANK_CELL = "literary"
# Rank by the primary score; a section whose runs all predate it (v1-era files) ranks by pair_acc.
RANK_METRICS = (PRIMARY_METRIC, "pair_acc")
EMPTY = "empty"  # a leaf that carries a stratified metric but has no item in that stratum


def bounds(metric: str) -> tuple[float, float] | None:
    return (0.0, 1.0) if metric in PROPORTIONS else None


def _results_count(leaf: Leaf, metric: str) -> int | None:
    """How many items a results-row value is over: a stratum's share of the leaf (from share_s_up)
    for the stratified values, every item otherwise."""
    if not metric.endswith(("_s_up", "_s_down")):
        return leaf.n
    share = leaf.means.get("share_s_up")
    if share is None:
        return None
    up = round(share * leaf.n)
    return up if metric.endswith("_s_up") else leaf.n - up


def leaf_estimate(leaf: Leaf, metric: str) -> Estimate | str | None:
    """Per-item samples where present (their SE needs no stderr from lm-eval), else the results row.

    None: the leaf does not carry the metric (e.g. a file written before it existed); EMPTY: it does,
    but no item of the leaf is in that stratum (or has a foreign Y').
    """
    if leaf.samples is not None and metric in leaf.samples:
        values = leaf.samples[metric]
        return estimate_from_values(values, bounds(metric)) if values else EMPTY
    if metric not in leaf.means:
        return None
    n = _results_count(leaf, metric)
    if n is None:
        return None
    if n == 0:
        return EMPTY
    return make_estimate(leaf.means[metric], leaf.stderrs.get(metric), n, bounds(metric))


def cell_estimate(leaves: Iterable[Leaf], metric: str) -> Estimate | None:
    """The metric over all items of the given leaves, pooled exactly (see stats.pool_estimates).

    A balanced accuracy is the mean of its two strata, each pooled over all the leaves first.
    """
    leaves = list(leaves)
    spec = METRIC_SPECS.get(metric)
    if spec is not None and spec.pooling == "balanced":
        family = metric.removesuffix("_balanced")
        up, down = cell_estimate(leaves, f"{family}_s_up"), cell_estimate(leaves, f"{family}_s_down")
        return balanced_estimate(up, down) if up is not None and down is not None else None
    parts = [leaf_estimate(leaf, metric) for leaf in leaves]
    if not parts or any(p is None for p in parts):
        return None
    counted = [p for p in parts if p != EMPTY]
    if not counted:
        return None  # every leaf's stratum is empty: the value is undefined, shown as absent
    return pool_estimates(counted, bounds(metric))  # type: ignore[arg-type]


def select_leaves(leaves: Iterable[Leaf], cell: str) -> list[Leaf]:
    group, lang, dim = CELLS[cell]
    return [
        leaf
        for leaf in leaves
        if leaf.group == group
        and (lang is None or leaf.lang == lang)
        and (dim is None or leaf.dimension == dim)
    ]


def run_cells(leaves: Iterable[Leaf]) -> dict[str, dict[str, Estimate]]:
    """Every cell x metric that the leaves support; absent cells mean the run did not cover them."""
    leaves = list(leaves)
    cells: dict[str, dict[str, Estimate]] = {}
    for cell in CELLS:
        chosen = select_leaves(leaves, cell)
        if not chosen:
            continue
        values = {m: est for m in METRICS if (est := cell_estimate(chosen, m)) is not None}
        if values:
            cells[cell] = values
    return cells


@dataclass
class Row:
    run: Run
    cells: dict[str, dict[str, Estimate]]
    label: str = ""
    rank: tuple[int, int] | None = None
    leaves: list[Leaf] = field(default_factory=list)  # this section's leaves of the run

    @property
    def rank_text(self) -> str:
        return format_rank(self.rank)

    def get(self, cell: str, metric: str) -> Estimate | None:
        return self.cells.get(cell, {}).get(metric)

    def partial(self, cell: str) -> bool:
        """True when the cell pools fewer leaf tasks than the benchmark has (an incomplete run)."""
        est = self.get(cell, "pair_acc")
        return est is not None and est.leaves < FULL_LEAVES[cell]


@dataclass
class Section:
    bench_version: str
    data_sha256: str
    data_files: list[str]
    rows: list[Row]
    superseded: list[Run] = field(default_factory=list)
    rank_metric: str = RANK_METRICS[0]

    @property
    def short_hash(self) -> str:
        return self.data_sha256[:12]

    @property
    def title(self) -> str:
        return f"CQA-Bench v{self.bench_version} · data {self.short_hash}"

    @property
    def slug(self) -> str:
        safe = "".join(
            c if c.isalnum() or c in ".-" else "-" for c in f"v{self.bench_version}-{self.short_hash}"
        )
        return safe.strip("-") or "section"


def _version_key(version: str) -> tuple:
    """Natural order, so v10 sorts after v9."""
    parts = version.replace("-", ".").split(".")
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def rank_metric_for(rows: list[Row]) -> str:
    """The first of RANK_METRICS that some row has in the literary cell."""
    for metric in RANK_METRICS:
        if any(r.get(RANK_CELL, metric) is not None for r in rows):
            return metric
    return RANK_METRICS[0]


def rank_rows(rows: list[Row], metric: str) -> list[Row]:
    """Rank by the literary `metric` with CI-overlap ties; rows without it come last, unranked."""
    ranked = [r for r in rows if r.get(RANK_CELL, metric) is not None]
    unranked = [r for r in rows if r.get(RANK_CELL, metric) is None]
    intervals = [r.get(RANK_CELL, metric).interval() for r in ranked]  # type: ignore[union-attr]
    for row, rank in zip(ranked, rank_intervals(intervals), strict=True):
        row.rank = rank
    ranked.sort(key=lambda r: (r.rank, -r.get(RANK_CELL, metric).mean, r.label, r.run.identity))  # type: ignore[union-attr]
    unranked.sort(key=lambda r: (r.label, r.run.identity))
    return ranked + unranked


def build_sections(runs: Iterable[Run]) -> list[Section]:
    """One section per (bench_version, data_sha256); in each, the latest run of every identity.

    A run whose leaves span two data versions contributes to both sections, each with only the
    leaves of that version: numbers from different data are never pooled.
    """
    by_section: dict[tuple[str, str], dict[str, list[tuple[Run, list[Leaf]]]]] = {}
    for run in runs:
        split: dict[tuple[str, str], list[Leaf]] = {}
        for leaf in run.leaves.values():
            split.setdefault(leaf.section, []).append(leaf)
        for key, leaves in split.items():
            by_section.setdefault(key, {}).setdefault(run.identity, []).append((run, leaves))

    sections = []
    for (version, sha), identities in by_section.items():
        rows, superseded, files = [], [], set()
        for candidates in identities.values():
            # Latest by the run's own date; the path breaks exact ties so the choice is stable.
            candidates.sort(key=lambda rl: (rl[0].date, str(rl[0].path)), reverse=True)
            run, leaves = candidates[0]
            superseded += [r for r, _ in candidates[1:]]
            files.update(leaf.data_file for leaf in leaves)
            rows.append(Row(run=run, cells=run_cells(leaves), leaves=leaves))
        labels = disambiguate(
            [r.run.name for r in rows], [{**r.run.args, "backend": r.run.backend} for r in rows]
        )
        for row, label in zip(rows, labels, strict=True):
            row.label = label
        metric = rank_metric_for(rows)
        sections.append(
            Section(
                bench_version=version,
                data_sha256=sha,
                data_files=sorted(files),
                rows=rank_rows(rows, metric),
                superseded=sorted(superseded, key=lambda r: str(r.path)),
                rank_metric=metric,
            )
        )
    sections.sort(key=lambda s: (_version_key(s.bench_version), s.data_sha256), reverse=True)
    sections.sort(key=lambda s: s.bench_version == UNKNOWN)  # stable: newest first, unversioned last
    return sections
