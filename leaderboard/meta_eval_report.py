"""`cqa meta-eval`, the report: Markdown and JSON tables of the sections, and the files on disk.

Readers sit side by side (columns), smallest first; every cell is the statistic with its 95 %
percentile bootstrap interval, as the task computed it over all items.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from cqa_tasks.human_metric import SCORES
from leaderboard.meta_eval_plot import plot_section
from leaderboard.meta_eval_runs import Interval, Section

MARKDOWN = "meta_eval.md"
JSON = "meta_eval.json"
LEADERBOARD_DIR = "meta-eval"  # the report's dir inside a leaderboard's output dir: `cqa leaderboard` links it


def _num(x: float | None, signed: bool) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:+.3f}" if signed else f"{x:.3f}"


def cell(iv: Interval | None, signed: bool = True) -> str:
    """`+0.312 [+0.270, +0.351]`; `n/a` where the statistic is undefined."""
    if iv is None or iv.value is None or not math.isfinite(iv.value):
        return "n/a"
    text = _num(iv.value, signed)
    if iv.low is not None and iv.high is not None and math.isfinite(iv.low) and math.isfinite(iv.high):
        text += f" [{_num(iv.low, signed)}, {_num(iv.high, signed)}]"
    return text


def _reader_head(section: Section, k: int) -> str:
    run = section.readers[k]
    return f"{section.labels[k]} ({run.size}, n={run.n if run.n is not None else '?'})"


def _pairs_table(section: Section) -> list[str]:
    heads = [_reader_head(section, k) for k in range(len(section.readers))]
    lines = ["| score | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(heads)]
    for score, spec in SCORES.items():
        cells = [cell(r.values.get(score), signed=False) for r in section.readers]
        lines.append(f"| {spec.label} | " + " | ".join(cells) + " |")
    return lines


def _ratings_tables(section: Section) -> list[str]:
    lines: list[str] = []
    heads = [h for k in range(len(section.readers)) for h in (f"{_reader_head(section, k)} τ-b", "ρ")]
    for criterion in section.criteria:
        lines += ["", f"#### {criterion}", "", "| score | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(heads)]
        for score, spec in SCORES.items():
            cells = [cell(r.values.get(f"{stat}:{score}:{criterion}")) for r in section.readers for stat in ("tau", "rho")]
            lines.append(f"| {spec.label} | " + " | ".join(cells) + " |")
    return lines


def to_markdown(sections: Sequence[Section], plots: dict[str, str] | None = None) -> str:
    plots = plots or {}
    lines = ["# Agreement with human judgments (cqa meta-eval)", ""]
    lines.append(
        "Each score of `cqa_human_pairs` / `cqa_human_ratings` against the human judgments, computed by the "
        "task over all its items, with 95 % percentile bootstrap intervals (1,000 resamples, seed 0). "
        "Readers are columns, smallest first; n is the number of items each run scored."
    )
    for section in sections:
        lines += ["", f"## {section.task} · `{section.data_file}` (sha256 {section.data_sha256[:12]}…)", ""]
        if section.kind == "pairs":
            lines.append("Accuracy with which the score picks the text the human preferred (a tie counts 0.5); chance is 0.5.")
            lines += [""] + _pairs_table(section)
        else:
            lines.append("Kendall τ-b and Spearman ρ between the score and each human criterion, over all rated texts.")
            lines += _ratings_tables(section)
        if section.slug in plots:
            lines += ["", f"![{section.task}]({plots[section.slug]})"]
    lines += ["", "Scores: " + "; ".join(f"**{spec.label}**: {spec.meaning}" for spec in SCORES.values()) + "."]
    files = sorted({r.source for s in sections for r in s.readers})
    lines += ["", "Results files read:", *[f"- `{f}`" for f in files]]
    return "\n".join(lines) + "\n"


def to_json(sections: Sequence[Section]) -> str:
    out = []
    for section in sections:
        readers = []
        for label, run in zip(section.labels, section.readers, strict=True):
            values = {key: asdict(iv) for key, iv in run.values.items()}
            readers.append({"label": label, "model_args": run.args, "num_parameters": run.num_parameters, "n": run.n,
                            "results_file": run.source, "values": values})  # fmt: skip
        out.append({"task": section.task, "kind": section.kind, "data_file": section.data_file,
                    "data_sha256": section.data_sha256, "criteria": section.criteria, "readers": readers})  # fmt: skip
    return json.dumps({"sections": out}, indent=1, ensure_ascii=False, sort_keys=False, allow_nan=False, default=str) + "\n"


def write_report(sections: Sequence[Section], out: Path) -> list[Path]:
    """meta_eval.md, meta_eval.json and one PNG per section under `out`; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    plots = {}
    written = []
    for section in sections:
        name = f"{section.slug}.png"
        if plot_section(section, out / name) is not None:
            plots[section.slug] = name
            written.append(out / name)
    for name, text in ((MARKDOWN, to_markdown(sections, plots)), (JSON, to_json(sections))):
        (out / name).write_text(text, encoding="utf-8", newline="\n")
        written.append(out / name)
    return written
