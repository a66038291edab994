"""Issue 6: the study pipeline end to end on a tiny configuration, and its resumability."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_tiny_study_runs_and_resumes(smollm2_dir, tmp_path, mini_path):
    out = tmp_path / "study"
    cmd = [sys.executable, "-m", "cqa_tasks.cli", "study", "--out", str(out), "--recipes", "cqa_cot,lima_style",
           "--epochs", "1", "--tasks", "cqa_custom", "--metadata", json.dumps({"data": str(mini_path)}), "--limit", "2",
           "--batch-size", "4", "--set", "max_steps=1", "limit=2", "max_length=256", "batch_size=2", "checkpoint_every_steps=1"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "expected wall time" in first.stderr
    log = json.loads((out / "study.json").read_text())
    assert set(log["evals"]) == {"base", "cqa_cot-epoch-1", "lima_style-epoch-1"}
    report = json.loads((out / "report" / "compare.json").read_text())
    assert {r["label"] for r in report["runs"]} == {"cqa_cot-epoch-1", "lima_style-epoch-1"}
    assert all(r["n"] > 0 for r in report["results"])
    assert (out / "report" / "compare.md").is_file()
    tokens = (out / "report" / "tokens.html").read_text(encoding="utf-8")
    assert "base vs lima_style-epoch-1" in tokens and "<section>" in tokens

    written = (out / "report" / "compare.json").stat().st_mtime_ns
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stderr.count("skip eval") == 3
    assert second.stderr.count("skip train") == 2
    # nothing new was evaluated: the report is neither recomputed nor lost
    assert "report up to date" in second.stderr
    assert (out / "report" / "compare.json").stat().st_mtime_ns == written
    assert "cqa compare" in second.stdout

    (out / "report" / "compare.json").unlink()  # a report that lags its evaluations is rewritten once
    third = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert third.returncode == 0, third.stderr[-3000:]
    assert third.stderr.count("skip eval") == 3 and "report up to date" not in third.stderr
    rewritten = json.loads((out / "report" / "compare.json").read_text())
    assert {r["label"] for r in rewritten["runs"]} == {"cqa_cot-epoch-1", "lima_style-epoch-1"}
