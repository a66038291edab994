"""Issue 16: hostile strings from results files and the command line in the reports.

A model name or argument that starts with `=`, `+`, `-` or `@` must not become a spreadsheet formula
in leaderboard.csv (OWASP CSV injection), and `|` or a newline must not break a Markdown table (or
start a heading) in leaderboard.md and compare.md.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest

from cqa_tasks.cli import main
from leaderboard.compare_scores import md_cell, md_code
from leaderboard.render_text import FORMULA_STARTS, _csv_safe

DATA = Path(__file__).parent / "data"
HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "  =1+1",
    "\t=1",
    "pipe|in|name\nand a newline\n## not a heading",
]
TEXT_COLUMNS = ("bench_version", "data_sha256", "model", "backend", "model_args", "dtype", "lm_eval_version", "results_file")
PIPE = re.compile(r"(?<!\\)\|")


def _hostile_run(src: Path, dst: Path, name: str, bench_version: str | None = "=1+1") -> None:
    shutil.copytree(src, dst)
    (results,) = dst.glob("results_*.json")
    data = json.loads(results.read_text(encoding="utf-8"))
    data["model_name"] = name
    data["config"]["model_args"] = {"pretrained": name, "dtype": "float32"}
    data["config"]["model"] = name  # the backend, a string from the file like any other
    data["lm_eval_version"] = name
    for config in data["configs"].values():
        if bench_version is not None:
            config.setdefault("metadata", {})["bench_version"] = bench_version
    results.write_text(json.dumps(data), encoding="utf-8")


def _table_blocks(md: str) -> list[list[str]]:
    blocks, current = [], []
    for line in md.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    return blocks + ([current] if current else [])


def _assert_tables_intact(md: str) -> None:
    """Every row of every table has the header's number of cells; no stray heading was injected."""
    blocks = _table_blocks(md)
    assert blocks
    for block in blocks:
        widths = {len(PIPE.findall(line)) for line in block}
        assert len(widths) == 1, block
    assert "## not a heading" not in [line.strip() for line in md.splitlines()]
    assert not any(line.startswith(("and a newline", "## not a heading")) for line in md.splitlines())


def test_csv_safe_by_hand():
    for text in HOSTILE[:6]:
        assert _csv_safe(text).startswith("'"), text
    assert _csv_safe("alpha") == "alpha" and _csv_safe("") == "" and _csv_safe("org/Model-1B") == "org/Model-1B"
    assert "\uff1d" in FORMULA_STARTS  # full-width "＝" is read as "=" by some spreadsheets


def test_markdown_cells_by_hand():
    assert md_cell("a|b\nc") == "a\\|b c"
    assert md_cell("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert(1)&gt;"
    assert md_code("x`y|z") == "`` x`y\\|z ``" and md_code("/models/a") == "`/models/a`"


@pytest.fixture(scope="module")
def hostile_runs(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("hostile_runs")
    for k, name in enumerate(HOSTILE):
        _hostile_run(DATA / "leaderboard" / "runs_a" / "models__alpha", runs / f"run{k}", name)
    return runs


def test_leaderboard_csv_and_markdown_neutralise_hostile_names(hostile_runs, tmp_path, capsys):
    assert main(["leaderboard", str(hostile_runs), "--no-reference", "-o", str(tmp_path / "board")]) == 0
    with (tmp_path / "board" / "leaderboard.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(HOSTILE)
    for row in rows:
        for column in TEXT_COLUMNS:
            value = row[column]
            assert value.lstrip(" ")[:1] not in FORMULA_STARTS, (column, value)
    assert {row["model"].lstrip("'") for row in rows} >= {HOSTILE[0], HOSTILE[1], HOSTILE[3]}  # kept, only defused
    _assert_tables_intact((tmp_path / "board" / "leaderboard.md").read_text(encoding="utf-8"))


def test_compare_markdown_keeps_its_tables_with_hostile_labels_and_names(tmp_path, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(DATA / "surprise_era" / "hash-lm-a", runs / "ref")
    _hostile_run(DATA / "surprise_era" / "hash-lm-b", runs / "evil", HOSTILE[-1], bench_version=None)
    label = "lab|el\n## not a heading"
    assert main(["compare", f"{label}={runs / 'evil'}", "--reference", str(runs / "ref"), "-o", str(tmp_path / "cmp"),
                 "--resamples", "50", "--no-plots"]) == 0
    md = (tmp_path / "cmp" / "compare.md").read_text(encoding="utf-8")
    _assert_tables_intact(md)
    assert "lab\\|el ## not a heading" in md  # the label is there, on one line, its pipe escaped
    assert "`` " not in md or "`" in HOSTILE[-1]
