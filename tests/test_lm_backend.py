"""`lm_eval --model hf-prefix` on the real embedded model: same per-item numbers as `--model hf`, and
`accelerate launch` with two CPU processes gives the same cqa metrics as one process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cqa_tasks.data import BENCH_FILE, data_dir
from cqa_tasks.prompts import pair_requests, with_foreign_constraints

pytestmark = pytest.mark.slow

TASKS = "cqa_creative_en_ethos,cqa_factual_zh_lexis"
KEYS = ("ll_c_orig", "ll_u_orig", "ll_c_degr", "ll_u_degr")
METRICS = ("pair_acc", "delta_i", "i_orig", "acc_cond_only")


def _first_item() -> dict:
    records = [json.loads(line) for line in (data_dir() / BENCH_FILE).read_text(encoding="utf-8").splitlines() if line.strip()]
    return with_foreign_constraints(records)[0]


def _lm_eval(model: str, pretrained: Path, out: Path, launcher: list[str] | None = None, env: dict | None = None) -> str:
    cmd = [*(launcher or [sys.executable]), "-m", "lm_eval", "run", "--model", model,
           "--model_args", f"pretrained={pretrained},dtype=float32", "--tasks", TASKS, "--limit", "2",
           "--batch_size", "2", "--device", "cpu", "--output_path", str(out), "--log_samples"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _items(out: Path) -> dict[str, dict]:
    items = {}
    for path in out.rglob("samples_*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)["cqa_item"]
            items[record["id"]] = record
    return items


def _metrics(out: Path) -> dict[tuple[str, str], float]:
    (results_file,) = out.rglob("results_*.json")
    results = json.loads(results_file.read_text())["results"]
    return {(task, m): results[task][f"{m},none"] for task in TASKS.split(",") for m in METRICS}


@pytest.fixture(scope="module")
def runs(smollm2_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("backend")
    _lm_eval("hf", smollm2_dir, root / "hf")
    _lm_eval("hf-prefix", smollm2_dir, root / "prefix")
    return root


def test_hf_prefix_reproduces_hf_per_item(runs):
    reference, fast = _items(runs / "hf"), _items(runs / "prefix")
    assert len(reference) == 4 and set(fast) == set(reference)
    for item_id, record in reference.items():
        for key in KEYS:
            assert fast[item_id][key] == pytest.approx(record[key], abs=1e-3), (item_id, key)
    for key, value in _metrics(runs / "hf").items():
        assert _metrics(runs / "prefix")[key] == pytest.approx(value, abs=2e-3), key  # bits; lls agree to 1e-3 nats


def test_accelerate_two_cpu_processes_match_one(runs, smollm2_dir):
    accelerate = str(Path(sys.executable).parent / "accelerate")
    launcher = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                "--mixed_precision", "no", "--dynamo_backend", "no"]
    # ACCELERATE_USE_CPU makes accelerate's state multi-process CPU (gloo); without it each process
    # believes it is alone. OMP_NUM_THREADS=1: one core per process.
    log = _lm_eval("hf-prefix", smollm2_dir, runs / "ddp", launcher, {"ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"})
    assert "on rank 1" in log  # the second process built (and scored) its own share of documents
    one, two = _metrics(runs / "prefix"), _metrics(runs / "ddp")
    for key, value in one.items():
        assert two[key] == pytest.approx(value, abs=2e-3), key  # other batch composition: float reassociation
    assert set(_items(runs / "ddp")) == set(_items(runs / "prefix"))


def test_request_cache_resumes_an_interrupted_evaluation(runs, smollm2_dir):
    # `cqa study` passes --use_cache so that a killed evaluation keeps what it scored. A run over half
    # the items stands in for the killed one: the full run then scores only the other half, and its
    # per-item numbers equal the uncached run's.
    cache = runs / "cache" / "requests"
    cmd = [sys.executable, "-m", "lm_eval", "run", "--model", "hf-prefix", "--model_args",
           f"pretrained={smollm2_dir},dtype=float32", "--tasks", TASKS, "--batch_size", "2", "--device", "cpu",
           "--use_cache", str(cache), "--log_samples"]
    half = subprocess.run([*cmd, "--limit", "1", "--output_path", str(runs / "half")], capture_output=True, text=True, timeout=900)
    assert half.returncode == 0, half.stderr[-3000:]
    per_run = 2 * len(pair_requests(_first_item()))  # two tasks, one item each
    assert f"Cached requests: 0, Requests remaining: {per_run}" in half.stdout + half.stderr
    full = subprocess.run([*cmd, "--limit", "2", "--output_path", str(runs / "resumed")], capture_output=True, text=True, timeout=900)
    assert full.returncode == 0, full.stderr[-3000:]
    assert f"Cached requests: {per_run}, Requests remaining: {per_run}" in full.stdout + full.stderr
    reference, resumed = _items(runs / "prefix"), _items(runs / "resumed")
    assert set(resumed) == set(reference)
    for item_id, record in reference.items():
        for key in KEYS:
            assert resumed[item_id][key] == pytest.approx(record[key], abs=1e-3), (item_id, key)
