"""Issue 6: the study pipeline end to end on a tiny configuration, and its resumability."""

import json
import subprocess
import sys

import pytest

from cqa_train import study


def test_eval_epochs_choose_the_checkpoints_evaluated(tmp_path, monkeypatch):
    """Every epoch is trained; only the chosen ones are evaluated (e.g. a data-size ablation at epoch 5)."""
    from cqa_tasks import models
    from cqa_train import trainer

    trained, evaluated = [], []

    def fake_train(recipe, stop_after_epoch=None):
        trained.append((recipe.name, stop_after_epoch, recipe.subset))
        merged = tmp_path / "study" / "runs" / recipe.name / f"epoch-{stop_after_epoch}" / "merged"
        merged.mkdir(parents=True)
        (merged / "config.json").write_text("{}")
        (merged.parent.parent / "manifest.json").write_text("{}")

    def fake_evaluate(cfg, label, pretrained, log):
        evaluated.append(label)
        return tmp_path / label, True

    monkeypatch.setattr(trainer, "train", fake_train)
    monkeypatch.setattr(models, "prepare", lambda name: tmp_path / "base")
    monkeypatch.setattr(study, "evaluate", fake_evaluate)
    monkeypatch.setattr(study, "write_report", lambda cfg, evals, dirs: None)
    cfg = study.StudyConfig(recipes=["cqa_cot"], epochs=3, eval_epochs=[3], overrides=["subset=25"], out=str(tmp_path / "study"))
    study.run_study(cfg)
    assert trained == [("cqa_cot", 1, 25), ("cqa_cot", 2, 25), ("cqa_cot", 3, 25)]
    assert evaluated == ["base", "cqa_cot-epoch-3"]
    assert study.estimate_seconds(cfg, {"cqa_cot": 25})["n_evals"] == 2
    assert study.estimate_seconds(study.StudyConfig(), {"cqa_cot": 100})["n_evals"] == 16
    with pytest.raises(ValueError, match=r"eval epochs \[6\] are outside 1..5"):
        study.StudyConfig(eval_epochs=[6]).evaluated_epochs()
    assert study._epoch_list("1,3,5") == [1, 3, 5]
    with pytest.raises(ValueError, match="comma-separated epoch numbers"):
        study._epoch_list("last")


@pytest.mark.slow
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
