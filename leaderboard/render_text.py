"""leaderboard.md, leaderboard.csv and leaderboard.json.

Markdown escapes HTML as well as its own syntax: Markdown viewers pass raw HTML through, and a
model name is whatever string someone put in their results file.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass, field

from cqa_tasks.metric import PRIMARY_METRIC
from leaderboard.columns import BREAKDOWN, OVERVIEW, Column, model_details, view
from leaderboard.identity import args_string
from leaderboard.reading import METRICS
from leaderboard.stats import Z95, Estimate
from leaderboard.table import CELLS, RANK_METRICS, Row, Section

TITLE = "CQA-Bench leaderboard — Calibrated Surprise"
METHOD = (
    "Deterministic and judge-free: every number is computed from the evaluated model's own "
    "log-likelihoods on fixed text pairs, with no sampling and no LLM judge, and the same results "
    "files always give the same page. Pair accuracy is the share of pairs where the original "
    "passage carries more information about its constraints than its degraded twin "
    "(ΔI = I(original) − I(degraded) > 0; chance is 0.5). ΔI favours the more surprising version "
    "of a pair, so the primary score is the contrast ΔI(Y) − ΔI(Y′) against a foreign item's "
    "constraints Y′, averaged over the two surprise strata (docs/metric.md). Intervals are 95 %: mean ± "
    f"{Z95}·SE, with SE the item standard deviation over √n (accuracy intervals clipped to [0, 1]); "
    "groups, languages and dimensions are pooled exactly from their leaf tasks. Ranks are by "
    "the literary primary score (literary pair accuracy for runs written before it existed); models whose intervals overlap share a rank range such as 1–2."
)


@dataclass
class Provenance:
    """What the page was built from, for its footer (labels relative to the given dirs)."""

    files_read: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # problems inside files that were used


def md_escape(text: str) -> str:
    """HTML-escape, then neutralize Markdown table and emphasis syntax, on one line."""
    text = html.escape(" ".join(str(text).split()))
    for ch in "\\`*_[]|#":
        text = text.replace(ch, "\\" + ch)
    return text


def _md_cell(row: Row, column: Column, section: Section) -> str:
    v = view(row, column, section)
    text = md_escape(v.text)
    if column.kind == "model":
        text = f"**{text}**<br>{md_escape(model_details(row.run))}"
    if v.ci:
        text += f" {v.ci}"
    if v.note.startswith("partial"):
        text += " †"
    return text


def _md_table(section: Section, columns: list[Column]) -> list[str]:
    lines = [
        "| " + " | ".join(md_escape(c.header) for c in columns) + " |",
        "|" + "|".join("---:" if c.numeric and c.kind != "rank" else "---" for c in columns) + "|",
    ]
    for row in section.rows:
        lines.append("| " + " | ".join(_md_cell(row, c, section) for c in columns) + " |")
    return lines


def to_markdown(
    sections: list[Section], prov: Provenance, surprise: dict[str, tuple[str, list[tuple[str, str]]]] | None = None
) -> str:
    surprise = surprise or {}
    lines = [f"# {TITLE}", "", METHOD, ""]
    for section in sections:
        lines += [
            f"## {md_escape(section.title)}",
            "",
            f"Data file {md_escape(', '.join(section.data_files))}, sha256 {md_escape(section.data_sha256)}; "
            f"{len(section.rows)} model(s). † = the run covered only part of that cell's tasks.",
            "",
            *_md_table(section, OVERVIEW),
            "",
            "### Literary, by dimension and language",
            "",
            *_md_table(section, BREAKDOWN),
            "",
        ]
        if section.slug in surprise:
            name, captions = surprise[section.slug]
            lines += [f"[ΔI against S(original) − S(twin), item by item]({name}):", ""]
            lines += [f"- **{md_escape(label)}**: {md_escape(text)}" for label, text in captions] + [""]
        if section.superseded:
            lines += [
                "Older runs of the same models, not shown: "
                + ", ".join(md_escape(r.label) for r in section.superseded),
                "",
            ]
    lines += ["## Columns", ""]
    lines += [
        f"- **{md_escape(c.header)}**: {md_escape(c.title)}"
        for c in OVERVIEW + BREAKDOWN[2:]
        if c.key != "rank"
    ]
    lines += ["", f"Built from {len(prov.files_read)} results file(s)."]
    for label, reason in prov.skipped:
        lines.append(f"- Skipped {md_escape(label)}: {md_escape(reason)}")
    for label, message in prov.notes:
        lines.append(f"- Note, {md_escape(label)}: {md_escape(message)}")
    return "\n".join(lines) + "\n"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # and full-width forms


def _csv_safe(text: str) -> str:
    """Strings from results files must not become spreadsheet formulas when the CSV is opened
    (OWASP "CSV injection"): a leading quote makes the cell text; leading spaces do not hide a `=`."""
    text = str(text)
    return "'" + text if text.lstrip(" ")[:1] in FORMULA_STARTS else text


CSV_METRICS = (
    PRIMARY_METRIC, "pair_acc", "delta_i", "share_s_up", "pair_acc_s_up", "pair_acc_s_down", "pair_acc_balanced",
    "u_pair_acc_balanced", "pair_acc_foreign", "contrast_pair_acc", "delta_contrast",
    "acc_cond_only", "acc_uncond_only", "acc_overlap",
)  # fmt: skip


def to_csv(sections: list[Section]) -> str:
    head = [
        "bench_version", "data_sha256", "rank", "rank_best", "rank_worst", "model", "backend", "model_args",
        "num_parameters", "dtype", "lm_eval_version", "date_utc", "limit", "results_file", "reference",
        "match_acc", "match_acc.ci_lo", "match_acc.ci_hi",
    ]  # fmt: skip
    for cell in CELLS:
        head.append(f"{cell}.n")
        for metric in CSV_METRICS:
            head += [f"{cell}.{metric}", f"{cell}.{metric}.ci_lo", f"{cell}.{metric}.ci_hi"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(head)
    for section in sections:
        for row in section.rows:
            run = row.run
            line = [
                _csv_safe(section.bench_version), _csv_safe(section.data_sha256), row.rank_text if row.rank else "",
                row.rank[0] if row.rank else "", row.rank[1] if row.rank else "", _csv_safe(row.label),
                _csv_safe(run.backend), _csv_safe(args_string(run.args)), run.num_parameters or "",
                _csv_safe(run.dtype), _csv_safe(run.lm_eval_version), run.date_text, run.limit or "",
                _csv_safe(run.label), int(run.reference),
            ]  # fmt: skip
            m = run.match
            line += [_num(m.mean), _num(m.lo), _num(m.hi)] if m else ["", "", ""]
            for cell in CELLS:
                pa = row.get(cell, "pair_acc")
                line.append(pa.n if pa else "")
                for metric in CSV_METRICS:
                    est = row.get(cell, metric)
                    line += [_num(est.mean), _num(est.lo), _num(est.hi)] if est else ["", "", ""]
            writer.writerow(line)
    return buf.getvalue()


def _num(x: float | None) -> str:
    return "" if x is None else repr(round(x, 10))


def _est_json(est: Estimate) -> dict:
    return {
        "mean": est.mean,
        "se": est.se,
        "ci95": [est.lo, est.hi],
        "n": est.n,
        "leaf_tasks": est.leaves,
        "from": est.source,
    }


def to_json(sections: list[Section], prov: Provenance) -> str:
    doc = {
        "title": TITLE,
        "method": METHOD,
        "rank_by": f"literary.{RANK_METRICS[0]} (a section of runs without it: literary.pair_acc)",
        "sections": [
            {
                "bench_version": s.bench_version,
                "rank_by": f"literary.{s.rank_metric}",
                "data_sha256": s.data_sha256,
                "data_files": s.data_files,
                "models": [
                    {
                        "rank": r.rank_text,
                        "rank_range": list(r.rank) if r.rank else None,
                        "model": r.label,
                        "identity": r.run.identity,
                        "backend": r.run.backend,
                        "model_args": r.run.args,
                        "num_parameters": r.run.num_parameters,
                        "dtype": r.run.dtype,
                        "lm_eval_version": r.run.lm_eval_version,
                        "date": r.run.date,
                        "date_utc": r.run.date_text,
                        "limit": r.run.limit,
                        "results_file": r.run.label,
                        "reference": r.run.reference,
                        "match_acc": _est_json(r.run.match) if r.run.match else None,
                        "cells": {
                            cell: {m: _est_json(r.cells[cell][m]) for m in METRICS if m in r.cells[cell]}
                            for cell in CELLS
                            if cell in r.cells
                        },
                    }
                    for r in s.rows
                ],
                "superseded_runs": [r.label for r in s.superseded],
            }
            for s in sections
        ],
        "files_read": prov.files_read,
        "skipped": [{"file": label, "reason": reason} for label, reason in prov.skipped],
        "notes": [{"file": label, "message": message} for label, message in prov.notes],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
