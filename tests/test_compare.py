"""`cqa compare` and cqa_train.stats on synthetic lm-eval output dirs with known answers (fast)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import wilcoxon

from cqa_train import token_view
from leaderboard import compare, compare_report, paired_runs
from leaderboard import paired_stats as stats

DATE_OLD = "2026-01-01T10-00-00.000001"
DATE = "2026-01-02T10-00-00.123456"
SHA = "a" * 64

# Per-item Δ(ΔI) = ΔI(model) − ΔI(reference), chosen so each cell has a hand-checkable answer.
# literary/en = [1, 2, 3, 4]: mean 2.5, sd sqrt(5/3), d = 2.5 / sqrt(5/3) = 1.9364916731037085
DIFFS = {
    "lit-en-ethos-1": 1.0,
    "lit-en-ethos-2": 2.0,
    "lit-en-mythos-1": 3.0,
    "lit-en-mythos-2": 4.0,
    "lit-zh-lexis-1": -0.5,
    "lit-zh-lexis-2": 1.5,
    "lit-zh-dianoia-1": 2.5,
    "lit-zh-dianoia-2": 0.0,
    "fac-en-ethos-1": 0.25,
    "fac-en-lexis-1": -0.25,
    "fac-zh-mythos-1": 0.0,
    "fac-zh-dianoia-1": 0.0,
}
REF_DELTA_I = -1.0  # every reference item is wrong (pair acc 0), so model pair acc is hand-countable


def _fields(item_id: str) -> tuple[str, str, str]:
    g, lang, dim, _ = item_id.split("-")
    return {"lit": "literary", "fac": "factual"}[g], lang, dim


def _pair_acc(delta_i: float) -> float:
    return 1.0 if delta_i > 0 else 0.5 if delta_i == 0 else 0.0


def write_run(
    out: Path,
    values: dict[str, float],
    *,
    model: str = "org__model",
    date: str = DATE,
    bench_version: str = "1.0",
    sha: str = SHA,
    model_args: object = None,
    metadata_extra: dict | None = None,
) -> Path:
    """What `lm_eval --output_path OUT --log_samples` writes: OUT/<model>/results_<date>.json + samples."""
    d = out / model
    d.mkdir(parents=True, exist_ok=True)
    by_task: dict[str, list[dict]] = {}
    for k, (item_id, delta_i) in enumerate(values.items()):
        group, lang, dim = _fields(item_id)
        task = f"cqa_{'creative' if group == 'literary' else 'factual'}_{lang}_{dim}"
        row = {
            "doc_id": k,
            "doc": {"id": item_id, "group": group, "lang": lang, "dimension": dim, "original": "<b>x</b>"},
            "pair_acc": _pair_acc(delta_i),
            "delta_i": delta_i,
            "cqa_item": {"id": item_id, "ll_c_orig": -10.0, "ll_u_orig": -11.0, "delta_i": delta_i},
        }
        by_task.setdefault(task, []).append(row)
    configs = {}
    for task, rows in by_task.items():
        (d / f"samples_{task}_{date}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
        meta = {
            "version": 1.0,
            "bench_version": bench_version,
            "data_sha256": sha,
            "data_file": "cqa_bench_v1.jsonl",
        }
        configs[task] = {"task": task, "metadata": meta | (metadata_extra or {})}
    results = {
        "results": {},
        "configs": configs,
        "config": {"model": "hf", "model_args": model_args or {"pretrained": f"/models/{model}"}},
        "model_name": f"/models/{model}",
        "model_name_sanitized": model,
    }
    (d / f"results_{date}.json").write_text(json.dumps(results), encoding="utf-8")
    return out


def ref_values() -> dict[str, float]:
    return {i: REF_DELTA_I for i in DIFFS}


def model_values(**kw: float) -> dict[str, float]:
    return {i: REF_DELTA_I + d for i, d in DIFFS.items()} | kw


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    ref = write_run(tmp_path / "base", ref_values(), model="org__base")
    model = write_run(
        tmp_path / "lora",
        model_values(),
        model="org__base",
        model_args={"pretrained": "/m/base", "peft": "/ckpt/lora/epoch-3"},
    )
    return ref, model


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cqa")
    compare_report.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["compare", *argv])
    return args.func(args)


def rows_of(result: dict, group: str, split: str = "all", value: str = "all") -> dict:
    (row,) = [r for r in result["results"] if (r["group"], r["split"], r["value"]) == (group, split, value)]
    return row


# ------------------------------------------------------------------------------------------- stats


def test_wilcoxon_matches_scipy() -> None:
    x = [1.0, 2.0, -0.5, 0.0, 3.0, 0.7, -1.2, 2.2]
    s = stats.paired_summary(x, seed=1)
    assert s.wilcoxon_p == pytest.approx(wilcoxon(x, alternative="greater").pvalue, rel=1e-12)
    rng = np.random.default_rng(3)
    y = rng.normal(0.3, 1.0, 80)  # above scipy's exact threshold: the normal approximation path
    assert stats.wilcoxon_greater(y) == pytest.approx(wilcoxon(y, alternative="greater").pvalue, rel=1e-12)


def test_cohens_d_and_mean_by_hand() -> None:
    s = stats.paired_summary([1.0, 2.0, 3.0, 4.0], seed=0)
    assert s.n == 4 and s.mean == 2.5
    assert s.cohens_d == pytest.approx(2.5 / math.sqrt(5 / 3))
    assert s.cohens_d == pytest.approx(1.9364916731037085)


@pytest.mark.parametrize("n_resamples", [10_000, 2_345])
def test_bootstrap_ci_matches_direct_numpy(n_resamples: int) -> None:
    x = np.array([0.3, -1.2, 2.5, 0.9, 1.1, -0.4, 3.3, 0.0, 0.8])
    s = stats.paired_summary(x, seed=42, n_resamples=n_resamples)
    rng = np.random.default_rng(42)
    means = x[rng.integers(0, x.size, size=(n_resamples, x.size))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    assert (s.ci_low, s.ci_high) == pytest.approx((lo, hi), rel=1e-12)
    assert s.ci_low <= s.mean <= s.ci_high
    assert stats.paired_summary(x, seed=42, n_resamples=n_resamples) == s  # seeded: reproducible
    assert stats.paired_summary(x, seed=43, n_resamples=n_resamples).ci_low != s.ci_low


def test_degenerate_inputs() -> None:
    empty = stats.paired_summary([], seed=0)
    assert empty.n == 0 and all(
        math.isnan(v) for v in (empty.mean, empty.ci_low, empty.wilcoxon_p, empty.cohens_d)
    )
    one = stats.paired_summary([0.7], seed=0)
    assert one.n == 1 and one.mean == 0.7
    assert math.isnan(one.ci_low) and math.isnan(one.wilcoxon_p) and math.isnan(one.cohens_d)
    zeros = stats.paired_summary([0.0] * 5, seed=0)
    assert zeros.mean == 0.0 and (zeros.ci_low, zeros.ci_high) == (0.0, 0.0)
    assert zeros.wilcoxon_p == 1.0 and math.isnan(zeros.cohens_d)
    with pytest.raises(ValueError, match="finite"):
        stats.paired_summary([1.0, math.nan])


# ------------------------------------------------------------------------------------------- reading


def test_run_resolution_latest_timestamp_and_subdir(tmp_path: Path) -> None:
    out = tmp_path / "run"
    write_run(out, {i: 9.0 for i in DIFFS}, date=DATE_OLD)  # older, different values: must be ignored
    write_run(out, ref_values(), date=DATE)
    for given in (out, out / "org__model", out / "org__model" / f"results_{DATE}.json"):
        run = compare.load_run(str(given))
        assert run.results_file.name == f"results_{DATE}.json"
        assert {it.delta_i for it in run.items.values()} == {REF_DELTA_I}
        assert len(run.items) == len(DIFFS)
    it = compare.load_run(str(out)).items["lit-zh-lexis-1"]
    assert (it.group, it.lang, it.dimension, it.task) == ("literary", "zh", "lexis", "cqa_creative_zh_lexis")
    assert compare.load_run(f"mine={out}").label == "mine"
    (tmp_path / "empty").mkdir()
    with pytest.raises(compare.CompareError, match="no lm-eval results"):
        compare.load_run(str(tmp_path / "empty"))
    with pytest.raises(compare.CompareError, match="no such run"):
        compare.load_run(str(tmp_path / "absent"))


def test_parse_epoch() -> None:
    assert paired_runs.parse_epoch({"pretrained": "/m/base", "peft": "/ckpt/run1/epoch-3"}) == 3
    assert paired_runs.parse_epoch("pretrained=/ckpt/lora_epoch_12/merged,dtype=float32") == 12
    assert paired_runs.parse_epoch({"pretrained": "/m/base"}, [{"cqa_epoch": 2}]) == 2
    assert paired_runs.parse_epoch({"pretrained": "/m/base", "cqa_epoch": "1.5"}) == 1.5
    assert paired_runs.parse_epoch({"pretrained": "/m/smollm2"}) is None
    assert paired_runs.parse_epoch({"pretrained": "/m/epochal2"}) is None


# ------------------------------------------------------------------------------------------- compare


def test_splits_and_numbers(runs: tuple[Path, Path]) -> None:
    ref_dir, model_dir = runs
    result = compare.compare_runs([compare.load_run(str(model_dir))], compare.load_run(str(ref_dir)), seed=7)
    assert result["warnings"] == []
    lit = rows_of(result, "literary")
    lit_diffs = [d for i, d in DIFFS.items() if i.startswith("lit")]
    assert lit["n"] == 8 and lit["mean_delta_delta_i"] == pytest.approx(np.mean(lit_diffs))
    assert lit["wilcoxon_p"] == pytest.approx(wilcoxon(lit_diffs, alternative="greater").pvalue)
    assert lit["n_zero"] == 1
    # reference pair acc is 0 everywhere; the model wins 5 items and ties 1 (ΔI exactly 0) of 8
    assert lit["pair_acc_reference"] == 0.0 and lit["pair_acc_model"] == pytest.approx(5.5 / 8)
    assert lit["pair_acc_change"] == pytest.approx(5.5 / 8)

    en = rows_of(result, "literary", "lang", "en")
    assert en["n"] == 4 and en["mean_delta_delta_i"] == pytest.approx(2.5)
    assert en["cohens_d"] == pytest.approx(1.9364916731037085)
    assert en["ci_low"] <= 2.5 <= en["ci_high"]
    zh = rows_of(result, "literary", "lang", "zh")
    assert zh["n"] == 4 and zh["mean_delta_delta_i"] == pytest.approx(0.875)
    assert rows_of(result, "literary", "dimension", "mythos")["mean_delta_delta_i"] == pytest.approx(3.5)
    assert rows_of(result, "literary", "dimension", "lexis")["n"] == 2

    fac = rows_of(result, "factual")
    assert fac["n"] == 4 and fac["mean_delta_delta_i"] == pytest.approx(0.0)
    assert rows_of(result, "factual", "lang", "zh")["wilcoxon_p"] == 1.0  # all-zero differences
    splits = {(r["group"], r["split"], r["value"]) for r in result["results"]}
    assert ("factual", "dimension", "ethos") in splits and ("factual", "lang", "en") in splits
    # literary and factual are never pooled
    assert {r["group"] for r in result["results"]} == {"literary", "factual"}
    assert len(result["items"]["lora"]) == len(DIFFS)


def test_bench_version_mismatch_refused(tmp_path: Path) -> None:
    ref = write_run(tmp_path / "base", ref_values(), bench_version="1.0")
    other = write_run(tmp_path / "new", model_values(), bench_version="1.1")
    with pytest.raises(compare.CompareError) as e:
        compare.compare_runs([compare.load_run(str(other))], compare.load_run(str(ref)))
    msg = str(e.value)
    assert "'1.0'" in msg and "'1.1'" in msg and "base" in msg and "new" in msg


def test_data_hash_mismatch_refused(tmp_path: Path) -> None:
    ref = write_run(tmp_path / "base", ref_values())
    other = write_run(tmp_path / "new", model_values(), sha="b" * 64)
    with pytest.raises(compare.CompareError, match="data_sha256") as e:
        compare.compare_runs([compare.load_run(str(other))], compare.load_run(str(ref)))
    assert SHA in str(e.value) and "b" * 64 in str(e.value)
    with pytest.raises(ValueError):  # what `cqa` main() turns into a one-line error
        cli([str(other), "--reference", str(ref), "-o", str(tmp_path / "o")])


def test_missing_items_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ref = write_run(tmp_path / "base", ref_values())
    vals = model_values()
    for gone in ("lit-zh-dianoia-2", "lit-zh-lexis-2", "fac-en-lexis-1"):
        del vals[gone]
    vals["fac-en-ethos-9"] = 1.0  # only in the model run
    model = write_run(tmp_path / "lora", vals)
    result = compare.compare_runs([compare.load_run(str(model))], compare.load_run(str(ref)))
    miss = result["missing"]["lora"]
    assert miss["only_in_reference"] == ["fac-en-lexis-1", "lit-zh-dianoia-2", "lit-zh-lexis-2"]
    assert miss["only_in_model"] == ["fac-en-ethos-9"]
    text = " ".join(result["warnings"])
    assert "3 item(s) missing from lora" in text and "lit-zh-lexis-2" in text
    assert "1 item(s) missing from the reference" in text and "fac-en-ethos-9" in text
    assert "warning" in capsys.readouterr().err
    assert rows_of(result, "literary")["n"] == 6 and rows_of(result, "factual")["n"] == 3  # the intersection


def test_cli_writes_markdown_json_and_plots(runs: tuple[Path, Path], tmp_path: Path) -> None:
    ref_dir, model_dir = runs
    out = tmp_path / "report"
    assert cli([str(model_dir), "--reference", str(ref_dir), "-o", str(out), "--seed", "3"]) == 0
    md = (out / "compare.md").read_text(encoding="utf-8")
    data = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    en = rows_of(data, "literary", "lang", "en")
    assert en["mean_delta_delta_i"] == pytest.approx(2.5) and en["cohens_d"] == pytest.approx(
        1.9364916731037085
    )
    assert data["settings"]["seed"] == 3 and "zero_method='wilcox'" in data["settings"]["wilcoxon"]
    # undefined statistics are null in strict JSON (factual zh: all-zero differences, sd 0)
    assert rows_of(data, "factual", "lang", "zh")["cohens_d"] is None
    assert "| literary | lang en | 4 | 0 | +2.500 |" in md
    assert f"{en['ci_low']:+.3f}, {en['ci_high']:+.3f}" in md and "+1.94" in md
    assert "| factual | all | 4 | 2 | +0.000 |" in md and "lora vs base" in md
    # the summary puts each run's two whole groups first
    summary = md[md.index("## Summary") : md.index("## lora vs base")]
    assert "| lora | literary | 8 |" in summary and "| lora | factual | 4 | 2 | +0.000 |" in summary
    assert "lang en" not in summary
    assert (out / "delta_delta_i.png").stat().st_size > 1000
    assert (out / "pair_acc_by_epoch.png").stat().st_size > 1000  # the model run carries epoch-3
    assert [p["epoch"] for p in data["epochs"] if p["label"] == "lora"] == [3, 3]


def test_no_epoch_plot_without_epochs(tmp_path: Path) -> None:
    ref = write_run(tmp_path / "base", ref_values())
    model = write_run(tmp_path / "other", model_values())
    out = tmp_path / "report"
    assert cli([str(model), "--reference", str(ref), "-o", str(out), "--resamples", "200"]) == 0
    assert (out / "delta_delta_i.png").exists() and not (out / "pair_acc_by_epoch.png").exists()
    assert json.loads((out / "compare.json").read_text())["epochs"] == []


# ------------------------------------------------------------------------------------------- heat-map


def test_heatmap_escapes_and_colours() -> None:
    before = [("<script>alert(1)</script>", 0.5), (" & ", -1.0), ('"q"', 0.0)]
    after = [("<script>alert(1)</script>", 2.0), (" & ", -0.25), ('"q"', 0.0)]
    page = token_view.render_token_heatmap(before, after, title="<i>t</i>")
    assert "<script>" not in page and "<i>t</i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and " &amp; " in page and "&quot;q&quot;" in page
    assert page.startswith("<!DOCTYPE html>") and "http" not in page  # self-contained
    assert "rgba(214,39,40,1.000)" in page  # the largest positive value: full red
    assert "rgba(31,119,180,0.500)" in page  # -1.0 on a shared scale of 2.0: half blue
    assert "change (after training − before training)" in page  # same tokens: a change row
    mismatched = token_view.render_token_heatmap(before, after[:2])
    assert "change (" not in mismatched


# --- the surprise-controlled scores --------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_runs(tmp_path_factory):
    """Two full `cqa` runs from fake LMs whose log-likelihoods differ (written as lm-eval writes them)."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from cqa_tasks.data import task_dir
    from tests.lm_eval_files import HashLM, write_run

    root = tmp_path_factory.mktemp("fake_runs")
    # on v1, so that the checked-in v1-era run below can be compared with them
    tm = TaskManager(include_defaults=False, include_path=str(task_dir()), metadata={"data": "cqa_bench_v1.jsonl"})
    out = {}
    for label, seed in (("base", ""), ("tuned", "tuned")):
        res = simple_evaluate(model=HashLM(seed), tasks=["cqa"], task_manager=tm, bootstrap_iters=0, log_samples=True)
        write_run(res, root / label, model_args=f"pretrained=/models/{label}")
        out[label] = res
    return root, out


def test_compare_reports_the_primary_score_per_stratum_and_the_surprise_plot(fake_runs, tmp_path):
    from cqa_tasks.metric import PRIMARY_METRIC, aggregate
    from leaderboard.compare import compare_runs, load_run
    from leaderboard.compare_report import write_outputs
    from leaderboard.surprise_plot import spearman

    root, res = fake_runs
    reference, run = load_run(str(root / "base")), load_run(str(root / "tuned"))
    result = compare_runs([run], reference, n_resamples=200)
    (lit,) = [r for r in result["scores"] if r["group"] == "literary"]

    def literary(label):
        return [s for t, rows in res[label]["samples"].items() if t.startswith("cqa_creative_") for s in rows]

    ref_value = aggregate(PRIMARY_METRIC, [s[PRIMARY_METRIC] for s in literary("base")])
    model_value = aggregate(PRIMARY_METRIC, [s[PRIMARY_METRIC] for s in literary("tuned")])
    assert lit["reference"] == pytest.approx(ref_value) and lit["model_value"] == pytest.approx(model_value)
    assert lit["change"] == pytest.approx(model_value - ref_value)
    assert lit["ci_low"] <= lit["change"] <= lit["ci_high"]
    assert lit["n"] == 176
    # Δ(ΔI) split by the reference reader's surprise stratum: the two strata partition the group
    strata = [r for r in result["results"] if r["group"] == "literary" and r["split"] == "stratum"]
    assert {r["value"] for r in strata} == {"S↑", "S↓"}
    ref_items = literary("base")
    n_up = sum(1 for s in ref_items if s["cqa_item"]["delta_s"] > 0)
    assert {r["value"]: r["n"] for r in strata} == {"S↑": n_up, "S↓": 176 - n_up}
    points = {r.label: [it.point for it in r.items.values()] for r in (reference, run)}
    written = write_outputs(result, tmp_path, surprise_points=points)
    assert written["surprise_plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = written["markdown"].read_text(encoding="utf-8")
    assert "## Primary score" in md and "![surprise](surprise.png)" in md
    rho = spearman([p for p in points["base"] if p.group == "literary"])
    assert f"literary: ρ(ΔI, ΔS) = {rho:+.2f}" in md


def test_compare_still_reads_v1_era_samples_without_the_new_scores(fake_runs, tmp_path):
    """A checked-in run written before the surprise-controlled scores: it loads, its strata come from
    s_orig/s_degr, and its primary score is absent (n/a), not 0."""
    from leaderboard.compare import compare_runs, load_run
    from leaderboard.compare_report import write_outputs

    root, _ = fake_runs
    old = load_run(str(Path(__file__).parent / "data" / "v1_era" / "hash-lm"))
    assert len(old.items) == 16 and all(it.point is not None and it.contrast is None for it in old.items.values())
    result = compare_runs([load_run(str(root / "base"))], old, n_resamples=200)
    (lit,) = [r for r in result["scores"] if r["group"] == "literary"]
    assert math.isnan(lit["reference"]) and not math.isnan(lit["model_value"])
    assert {r["value"] for r in result["results"] if r["split"] == "stratum"} <= {"S↑", "S↓"}
    md = write_outputs(result, tmp_path)["markdown"].read_text(encoding="utf-8")
    assert "| base | literary | 8 | n/a → " in md
