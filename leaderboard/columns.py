"""The table columns and how one row's value looks in each: shared by the Markdown and HTML pages."""

from __future__ import annotations

from dataclasses import dataclass

from cqa_tasks.metric import PRIMARY_METRIC
from cqa_tasks.schema import DIMENSIONS, LANGS
from leaderboard.identity import args_string, format_params
from leaderboard.reading import Run
from leaderboard.stats import Estimate
from leaderboard.table import Row, Section

MISSING = "—"


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # full header (Markdown, CSV-like contexts)
    title: str  # what the column means, as a tooltip and in the Markdown legend
    kind: str  # "rank", "model", "acc", "bits", "count", "params", "text", "date"
    cell: str | None = None
    metric: str | None = None
    with_ci: bool = True
    short: str = ""  # HTML header under a group header that already says e.g. "Literary"

    @property
    def numeric(self) -> bool:
        return self.kind not in ("model", "text")


@dataclass(frozen=True)
class CellView:
    text: str
    sort: float | str | None  # the value the HTML table sorts on; None sorts last
    ci: str = ""  # second, smaller line: the 95 % CI, or a detail such as the time of day
    note: str = ""  # tooltip, e.g. why a value is marked partial


def _acc(cell: str, header: str, title: str, short: str, metric: str = "pair_acc", ci: bool = True) -> Column:
    return Column(f"{cell}.{metric}", header, title, "acc", cell, metric, ci, short)


def _bits(cell: str, header: str, title: str, short: str = "ΔI (bits)") -> Column:
    return Column(f"{cell}.delta_i", header, title, "bits", cell, "delta_i", True, short)


RANK = Column(
    "rank", "Rank",
    "By the literary primary score (contrast pair accuracy, balanced over surprise strata; a section of "
    "runs that all predate it ranks by literary pair accuracy); a range like 1–2 means the 95 % intervals overlap",
    "rank",
)  # fmt: skip
MODEL = Column("model", "Model", "Weights (+ adapter); below: the full normalized model arguments", "model")
WIN = "Share of pairs where the original has more constraint information than its degraded twin (chance 0.5)"
PRIMARY = (
    "Primary score (docs/metric.md): contrast ΔI(Y) − ΔI(Y′) > 0, with Y′ a foreign item's constraints, "
    "averaged over the two surprise strata (original more / less surprising than its twin); chance 0.5"
)

OVERVIEW = [
    RANK,
    MODEL,
    _acc("literary", "Literary primary", f"Literary: {PRIMARY}", "Primary", PRIMARY_METRIC),
    _acc("literary", "Literary pair acc", f"Literary: {WIN} (ΔI > 0; not controlled for surprise)", "ΔI pair acc"),
    _bits("literary", "Literary ΔI (bits)", "Literary: mean I(original) − I(degraded), in bits"),
    _acc("literary", "Share S↑", "Literary: share of pairs whose original is the more surprising version "
         "(S(o) > S(d)); far from 0.5 means pair acc mostly reports surprise", "Share S↑", "share_s_up", False),
    _acc("literary", "ΔI acc, S↑", "Literary pair accuracy (ΔI) on pairs whose original is the more surprising",
         "ΔI acc S↑", "pair_acc_s_up"),
    _acc("literary", "ΔI acc, S↓", "Literary pair accuracy (ΔI) on pairs whose original is the less surprising",
         "ΔI acc S↓", "pair_acc_s_down"),
    _acc("literary", "ΔI acc, balanced", "Literary: mean of the two strata's ΔI pair accuracies",
         "ΔI balanced", "pair_acc_balanced"),
    _acc("literary", "U acc, balanced", "Literary: U = I/S (share of the surprise that Y explains) pair "
         "accuracy, balanced over the strata", "U balanced", "u_pair_acc_balanced"),
    _acc("literary", "Foreign-Y acc", "Literary control: ΔI under a foreign item's constraints Y′ > 0; high "
         "means the preference is not about these constraints", "Foreign Y′", "pair_acc_foreign"),
    _acc("literary", "Contrast acc", "Literary: contrast ΔI(Y) − ΔI(Y′) > 0, all pairs", "Contrast",
         "contrast_pair_acc"),
    _acc("factual", "Factual primary", f"Factual control: {PRIMARY}", "Primary", PRIMARY_METRIC),
    _acc("factual", "Factual pair acc", f"Factual control: {WIN}", "ΔI pair acc"),
    _bits("factual", "Factual ΔI (bits)", "Factual control: mean ΔI, in bits"),
    _acc("literary", "Cond-only acc", "Baseline, literary: higher log p(passage | constraints) alone wins",
         "Cond-only", "acc_cond_only", False),
    _acc("literary", "Perplexity acc", "Baseline, literary: the lower-perplexity version wins", "Perplexity",
         "acc_uncond_only", False),
    _acc("literary", "Overlap acc", "Baseline, literary, no model: more words shared with the constraints wins",
         "Overlap", "acc_overlap", False),
    Column("match", "Match acc", "cqa_match: the item's own constraints Y make its original more probable than a "
           "foreign item's Y′ do (chance 0.5); near 1 means the reader reads Y, so a ΔI near chance is not "
           "for want of reading it", "acc", short="cqa_match"),
    Column("literary.n", "Literary n", "Literary pairs scored", "count", "literary", "pair_acc", short="Literary"),
    Column("factual.n", "Factual n", "Factual pairs scored", "count", "factual", "pair_acc", short="Factual"),
    Column("params", "Params", "Parameter count reported by lm-eval", "params"),
    Column("dtype", "dtype", "The dtype the model ran in", "text"),
    Column("bench", "Bench · data", "Benchmark version and data sha256 (short)", "text"),
    Column("lm_eval", "lm-eval", "lm-evaluation-harness version", "text"),
    Column("date", "Run date", "When the run finished (UTC); the latest run of each model is shown", "date",
           short="Date"),
]  # fmt: skip

BREAKDOWN = [
    RANK,
    MODEL,
    *[
        col
        for part, what in [(d, f"{d} items, both languages pooled") for d in DIMENSIONS]
        + [(lang, f"{lang} items, all dimensions") for lang in LANGS]
        for col in (
            _acc(f"literary_{part}", f"{part} acc", f"Literary pair accuracy, {what}", "Pair acc"),
            _bits(f"literary_{part}", f"{part} ΔI", f"Literary mean ΔI (bits), {what}", "ΔI"),
        )
    ],
]


def model_details(run: Run) -> str:
    """The line under a model's name: its identity, and the item limit if the run used one."""
    text = f"{run.backend}: {args_string(run.args)}"
    if run.limit:
        text += f" · limit={run.limit:g} per task"
    return text


def fmt_acc(x: float) -> str:
    return f"{x:.3f}"


def fmt_bits(x: float) -> str:
    return f"{x:+.2f}".replace("-", "−")


def fmt_ci(est: Estimate, kind: str) -> str:
    if est.lo is None or est.hi is None:
        return "no CI"
    f = fmt_acc if kind == "acc" else fmt_bits
    return f"[{f(est.lo)}, {f(est.hi)}]"


def view(row: Row, column: Column, section: Section) -> CellView:
    """Display text, sort key, CI text and tooltip of one row in one column."""
    run = row.run
    if column.kind == "rank":
        return CellView(row.rank_text, row.rank[0] if row.rank else None)
    if column.kind == "model":
        return CellView(row.label, row.label.lower())
    if column.key == "match":
        if run.match is None:
            return CellView(MISSING, None, note="cqa_match not in this run")
        return CellView(fmt_acc(run.match.mean), run.match.mean, fmt_ci(run.match, "acc"))
    if column.kind in ("acc", "bits", "count"):
        est = row.get(column.cell or "", column.metric or "")
        if est is None:
            return CellView(MISSING, None, note="not in this run")
        note = ""
        if row.partial(column.cell or ""):
            note = f"partial: {est.leaves} leaf task(s) of this cell were run"
        if column.kind == "count":
            return CellView(str(est.n), est.n, note=note)
        text = fmt_acc(est.mean) if column.kind == "acc" else fmt_bits(est.mean)
        return CellView(text, est.mean, fmt_ci(est, column.kind) if column.with_ci else "", note)
    if column.kind == "params":
        return CellView(format_params(run.num_parameters), run.num_parameters)
    if column.kind == "date":
        day, _, time = run.date_text.partition(" ")
        return CellView(day, run.date if run.date > 0 else None, time)
    if column.key == "bench":
        return CellView(f"v{section.bench_version}", section.bench_version.lower(), section.short_hash)
    text = {"dtype": run.dtype, "lm_eval": run.lm_eval_version}[column.key]
    return CellView(text, text.lower())
