"""`cqa bench audit`: is a benchmark balanced on the nuisances the metric is sensitive to? (pure, no I/O)

For every pair it records, in the direction "the original is the one that is …":
    s_up      more surprising, S(o) > S(d)                 (per reader: −log p(x | H))
    c_up      more probable under Y, ll_c(o) > ll_c(d)      (per reader: log p(x | Y, H))
    longer    longer, in characters                         (no model)
    overlap   sharing more words with Y                     (no model; metric.constraint_overlap)
A tie counts 0.5. A balanced benchmark has each share near 0.5 in every cell, so that no score that
follows one of these nuisances can separate originals from twins. The audit never looks at ΔI or
any score of the metric: it reports nuisance directions only (docs/metric.md, task_configs/DATACARD.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cqa_tasks.metric import constraint_overlap, win
from cqa_tasks.schema import DIMENSIONS, GROUPS, LANGS

MODEL_NUISANCES = ("s_up", "c_up")
TEXT_NUISANCES = ("longer", "overlap")
LABELS = {
    "s_up": "original more surprising",
    "c_up": "original more probable under Y",
    "longer": "original longer",
    "overlap": "original shares more words with Y",
}


@dataclass(frozen=True)
class Bands:
    cell: tuple[float, float] = (0.35, 0.65)  # each group x language x dimension cell of >= min_cell pairs
    group: tuple[float, float] = (0.42, 0.58)  # each group overall
    min_cell: int = 10


@dataclass(frozen=True)
class PairDiffs:
    """Original minus twin, for one pair under one reader (bits for S; nats for ll_c)."""

    delta_s: float
    delta_ll_c: float


def text_differences(item: Mapping) -> dict[str, float]:
    """The model-free nuisance differences of a pair: characters and overlap share, original minus twin."""
    return {
        "longer": float(len(item["original"].strip()) - len(item["degraded"].strip())),
        "overlap": constraint_overlap(item["original"], item["constraints"])
        - constraint_overlap(item["degraded"], item["constraints"]),
    }


def pair_diffs(ll_c_o: float, ll_u_o: float, ll_c_d: float, ll_u_d: float) -> PairDiffs:
    """From the four log-likelihoods (nats) of an item's requests o|Y, o, d|Y, d."""
    from cqa_tasks.metric import LN2

    return PairDiffs(delta_s=(ll_u_d - ll_u_o) / LN2, delta_ll_c=ll_c_o - ll_c_d)


@dataclass
class Cell:
    key: tuple[str, ...]  # (group,) or (group, lang, dimension)
    n: int
    shares: dict[str, float]  # column -> share of pairs in the "original is …" direction
    band: tuple[float, float] | None  # None: too few pairs to be held to a band
    flagged: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return " · ".join(self.key) + ("" if len(self.key) > 1 else " (all)")


@dataclass
class AuditResult:
    readers: list[str]
    columns: list[str]  # "s_up:READER", "c_up:READER", "longer", "overlap"
    cells: list[Cell]
    worst: dict[str, dict[str, list[tuple[str, float]]]]  # cell name -> column -> [(id, difference)]

    @property
    def passed(self) -> bool:
        return not any(c.flagged for c in self.cells)


def _differences(items: Sequence[Mapping], diffs: Mapping[str, Mapping[str, PairDiffs]]) -> dict[str, dict[str, float]]:
    """item id -> column -> original-minus-twin difference (positive: the original is 'more')."""
    out: dict[str, dict[str, float]] = {}
    for item in items:
        row = text_differences(item)
        for reader, per_item in diffs.items():
            d = per_item[item["id"]]
            row[f"s_up:{reader}"] = d.delta_s
            row[f"c_up:{reader}"] = d.delta_ll_c
        out[item["id"]] = row
    return out


def audit(
    items: Sequence[Mapping], diffs: Mapping[str, Mapping[str, PairDiffs]], bands: Bands = Bands(), n_worst: int = 3
) -> AuditResult:
    """Shares per cell and per group for every reader's model nuisances and the text nuisances.

    `diffs[reader][item_id]` holds that reader's differences. A share outside its band flags the
    cell; for each flagged cell and column, the `n_worst` items pushing hardest in the share's
    direction are listed (the ones to revise first).
    """
    readers = list(diffs)
    columns = [f"{n}:{r}" for r in readers for n in MODEL_NUISANCES] + list(TEXT_NUISANCES)
    values = _differences(items, diffs)
    cells: list[Cell] = []
    worst: dict[str, dict[str, list[tuple[str, float]]]] = {}
    keys: list[tuple[str, ...]] = []
    for group in GROUPS:
        keys += [(group, lang, dim) for lang in LANGS for dim in DIMENSIONS]
        keys.append((group,))
    for key in keys:
        members = [it for it in items if (it["group"],) == key or (it["group"], it["lang"], it["dimension"]) == key]
        if not members:
            continue
        shares = {c: sum(win(values[it["id"]][c], 0.0) for it in members) / len(members) for c in columns}
        band = bands.group if len(key) == 1 else (bands.cell if len(members) >= bands.min_cell else None)
        cell = Cell(key, len(members), shares, band)
        if band is not None:
            cell.flagged = [c for c in columns if not band[0] <= shares[c] <= band[1]]
        for c in cell.flagged:
            sign = 1.0 if shares[c] > band[1] else -1.0  # too many originals "more": list the most positive
            ranked = sorted(members, key=lambda it, c=c: -sign * values[it["id"]][c])
            worst.setdefault(cell.name, {})[c] = [(it["id"], values[it["id"]][c]) for it in ranked[:n_worst]]
        cells.append(cell)
    return AuditResult(readers, columns, cells, worst)


def column_title(column: str) -> str:
    nuisance, _, reader = column.partition(":")
    short = {"s_up": "S(o) > S(d)", "c_up": "ll_c(o) > ll_c(d)", "longer": "longer", "overlap": "more overlap"}[nuisance]
    return f"{short} [{reader}]" if reader else short


def render(result: AuditResult) -> str:
    """Markdown: one row per cell, one column per nuisance (per reader for the model ones); `!` flags."""
    head = "| cell | n | " + " | ".join(column_title(c) for c in result.columns) + " | band |"
    lines = [head, "|---|---:|" + "---:|" * len(result.columns) + "---|"]
    for cell in result.cells:
        shown = [f"{cell.shares[c]:.2f}" + (" !" if c in cell.flagged else "") for c in result.columns]
        band = f"{cell.band[0]:.2f}–{cell.band[1]:.2f}" if cell.band else f"n < {Bands().min_cell}: not held"
        name = f"**{cell.name}**" if len(cell.key) == 1 else cell.name
        lines.append(f"| {name} | {cell.n} | " + " | ".join(shown) + f" | {band} |")
    flagged = [c for c in result.cells if c.flagged]
    lines.append("")
    if not flagged:
        lines.append(f"PASSED: every share is inside its band for {', '.join(result.readers) or 'the text nuisances'}.")
        return "\n".join(lines)
    lines.append(f"FAILED: {sum(len(c.flagged) for c in flagged)} share(s) outside their band in {len(flagged)} cell(s).")
    for cell in flagged:
        for c in cell.flagged:
            ids = ", ".join(f"{i} ({v:+.3g})" for i, v in result.worst[cell.name][c])
            lines.append(f"- {cell.name}: {column_title(c)} = {cell.shares[c]:.2f}; largest differences: {ids}")
    return "\n".join(lines)


def item_table(items: Sequence[Mapping], diffs: Mapping[str, Mapping[str, PairDiffs]]) -> dict[str, dict[str, float]]:
    """Per item, every column's original-minus-twin difference (what the shares are computed from)."""
    return _differences(items, diffs)


def to_json(result: AuditResult) -> dict:
    return {
        "readers": result.readers,
        "passed": result.passed,
        "cells": [
            {"cell": list(c.key), "n": c.n, "shares": c.shares, "band": c.band, "flagged": c.flagged} for c in result.cells
        ],
        "worst": result.worst,
    }
