"""Both human-judgment tasks through the `lm_eval` command on the embedded reader, then `cqa meta-eval`."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cqa_tasks import agreement, human_metric
from cqa_tasks.data import task_dir
from leaderboard import meta_eval
from leaderboard.lm_eval_output import latest_results_file, samples_files
from tests.human_files import PAIRS, RATINGS, write_jsonl

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_lm_eval_runs_both_tasks_on_the_embedded_model(smollm2_dir, tmp_path, capsys):
    pairs = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    ratings = write_jsonl(tmp_path / "ratings.jsonl", RATINGS)
    out = tmp_path / "results"
    cmd = [
        sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={smollm2_dir},dtype=float32",
        "--tasks", "cqa_human_pairs,cqa_human_ratings", "--include_path", str(task_dir()), "--device", "cpu",
        "--batch_size", "4", "--limit", "3", "--output_path", str(out), "--log_samples",
        "--metadata", json.dumps({"pairs_data": str(pairs), "ratings_data": str(ratings), "criteria": ["coherence"]}),
    ]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]

    results_path = latest_results_file(out)
    results = json.loads(results_path.read_text(encoding="utf-8"))["results"]
    samples = {task: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
               for task, path in samples_files(results_path).items()}  # fmt: skip
    # pairs: every accuracy is the mean of its per-pair wins; 3 pairs scored
    row = results["cqa_human_pairs"]
    assert row["cqa_human_item,none"] == 3
    for score in human_metric.SCORES:
        wins = [s[f"acc:{score}"] for s in samples["cqa_human_pairs"]]
        assert row[f"acc:{score},none"] == pytest.approx(agreement.accuracy(wins)), score
    assert row["acc:length,none"] == pytest.approx(0.5)  # no model: p1's chosen is longer, p2 a tie, p3 shorter
    # ratings: τ over the 3 texts from the [score, rating] values in the samples log
    row = results["cqa_human_ratings"]
    for score in human_metric.SCORES:
        values = [s[f"tau:{score}:coherence"] for s in samples["cqa_human_ratings"]]
        expected = agreement.kendall_tau_b([v[0] for v in values], [v[1] for v in values])
        assert row.get(f"tau:{score}:coherence,none", math.nan) == pytest.approx(expected, nan_ok=True), score
    assert not any(":surprise" in key for key in row)

    assert meta_eval.main([str(out), "-o", str(tmp_path / "meta")]) == 0
    md = (tmp_path / "meta" / "meta_eval.md").read_text(encoding="utf-8")
    assert "## cqa_human_pairs" in md and "#### coherence" in md
    assert len(list((tmp_path / "meta").glob("*.png"))) == 2
    capsys.readouterr()
