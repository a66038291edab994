"""`cqa_human_pairs` and `cqa_human_ratings` through lm-eval with a fake LM: hand-computed accuracies
and τ (ties included), corpus-level aggregation, the samples log, and bad files refused before scoring."""

import json
import math

import pytest
from scipy.stats import kendalltau, spearmanr

from cqa_tasks import agreement, human_metric
from cqa_tasks.metric import LN2
from cqa_tasks.schema import BenchDataError
from tests.human_files import (
    PAIR_ACC,
    PAIR_WINS,
    PAIRS,
    RATING_LL,
    RATING_RHO_I_COHERENCE,
    RATING_TAU_I_COHERENCE,
    RATINGS,
    KnownLM,
    evaluate,
    pair_table,
    rating_table,
    write_jsonl,
)


def test_task_index_lists_both(task_manager):
    assert {"cqa_human_pairs", "cqa_human_ratings"} <= set(task_manager.all_tasks)


def test_pairs_accuracy_by_hand(tmp_path):
    data = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    res = evaluate("cqa_human_pairs", data, KnownLM(pair_table()))
    row = res["results"]["cqa_human_pairs"]
    for score, acc in PAIR_ACC.items():
        assert row[f"acc:{score},none"] == pytest.approx(acc), score
        interval = agreement.accuracy_estimate(PAIR_WINS[score])
        assert (row[f"acc_lo:{score},none"], row[f"acc_hi:{score},none"]) == (interval.low, interval.high)
    assert row["cqa_human_item,none"] == 4
    # "the more surprising text wins" and its opposite are complements when no S ties
    assert row["acc:s_bpb,none"] + row["acc:neg_s_bpb,none"] == pytest.approx(1.0)
    assert set(res["higher_is_better"]["cqa_human_pairs"]) >= set(human_metric.pair_metric_names())
    meta = res["configs"]["cqa_human_pairs"]["metadata"]
    assert (meta["human_kind"], meta["data_file"], meta["n_records"]) == ("pairs", "pairs.jsonl", 4)


def test_pairs_samples_keep_the_raw_values(tmp_path):
    data = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    res = evaluate("cqa_human_pairs", data, KnownLM(pair_table()))
    sample = res["samples"]["cqa_human_pairs"][0]
    assert [a[0] for a in sample["arguments"]][:2] == ["Writing prompt: A letter to a lost friend.\n\nPassage:", "Passage:"]
    item = sample["cqa_human_item"]
    assert (item["id"], item["foreign_id"]) == ("p1", "p3")
    assert (item["chosen"]["ll_c"], item["chosen"]["ll_u"], item["chosen"]["ll_cf"]) == (-10.0, -14.0, -13.0)
    assert item["delta"]["i"] == pytest.approx((4 - 1) / LN2)
    assert item["delta"]["contrast"] == pytest.approx((3 - 0.5) / LN2)
    assert sample["acc:i"] == 1.0 and sample["acc:ll_u"] == 0.0
    json.dumps(res["results"])


def test_ratings_tau_by_hand_and_against_scipy(tmp_path):
    data = write_jsonl(tmp_path / "ratings.jsonl", RATINGS)
    res = evaluate("cqa_human_ratings", data, KnownLM(rating_table()))
    row = res["results"]["cqa_human_ratings"]
    assert row["tau:i:coherence,none"] == pytest.approx(RATING_TAU_I_COHERENCE)
    assert row["rho:i:coherence,none"] == pytest.approx(RATING_RHO_I_COHERENCE)
    assert res["configs"]["cqa_human_ratings"]["metadata"]["criteria"] == ["coherence", "surprise"]
    # every score against every criterion: scipy on the same columns
    samples = res["samples"]["cqa_human_ratings"]
    for score in human_metric.SCORES:
        for criterion in ("coherence", "surprise"):
            xs = [s["cqa_human_item"]["scores"][score] for s in samples]
            ys = [r["human"][criterion] for r in RATINGS]
            name = f"{score}:{criterion},none"
            assert row["tau:" + name] == pytest.approx(kendalltau(xs, ys).statistic, nan_ok=True), name
            assert row["rho:" + name] == pytest.approx(spearmanr(xs, ys).statistic, nan_ok=True), name
            interval = agreement.tau_b_estimate(xs, ys)
            assert (row["tau_lo:" + name], row["tau_hi:" + name]) == (interval.low, interval.high)
    # the contrast uses the foreign prompt: r1's Y' is the clock prompt
    assert samples[0]["cqa_human_item"]["scores"]["contrast"] == pytest.approx((-20 + 22) / LN2)
    assert samples[0]["doc"]["foreign_prompt"] == "A clock that runs backwards."


def test_ratings_aggregate_over_the_corpus_not_per_item(tmp_path):
    """τ over the 3 items --limit keeps is the statistic of those items, computed once over all of them."""
    data = write_jsonl(tmp_path / "ratings.jsonl", RATINGS)
    res = evaluate("cqa_human_ratings", data, KnownLM(rating_table()), criteria=["coherence"], limit=3)
    row = res["results"]["cqa_human_ratings"]
    i_bits = [(RATING_LL[r][0] - RATING_LL[r][1]) / LN2 for r in ("r1", "r2", "r3")]
    assert row["tau:i:coherence,none"] == pytest.approx(agreement.kendall_tau_b(i_bits, [2, 1, 2]))
    assert not any(":surprise" in k for k in row)  # only the criteria asked for
    per_item = res["samples"]["cqa_human_ratings"][0]["tau:i:coherence"]
    assert per_item == [pytest.approx(3 / LN2), 2.0]  # [score, rating]: what the aggregation ranks


def test_aggregation_is_the_registered_one(tmp_path):
    from lm_eval.api.registry import get_aggregation
    from lm_eval.tasks import TaskManager

    from cqa_tasks.data import task_dir

    data = write_jsonl(tmp_path / "ratings.jsonl", RATINGS)
    tm = TaskManager(include_defaults=False, include_path=str(task_dir()), metadata={"data": str(data)})
    task = tm.load(["cqa_human_ratings"])["tasks"]["cqa_human_ratings"]
    agg = task.aggregation()
    assert agg["tau:ll_u:surprise"] is get_aggregation("cqa_kendall_tau_b")
    assert agg["rho_hi:length:coherence"] is get_aggregation("cqa_spearman_rho_ci_hi")
    assert task.higher_is_better()["tau:i:coherence"] is True


def test_bad_files_stop_the_task_before_scoring(tmp_path, task_manager):
    from lm_eval.tasks import TaskManager

    from cqa_tasks.data import task_dir

    bad = write_jsonl(tmp_path / "ratings.jsonl", [RATINGS[0], RATINGS[1] | {"human": {"coherence": "high"}}])
    tm = TaskManager(include_defaults=False, include_path=str(task_dir()), metadata={"data": str(bad)})
    with pytest.raises(BenchDataError) as err:
        tm.load(["cqa_human_ratings"])
    assert str(err.value) == f"{bad}:2: human.coherence: must be a finite number, got 'high'"
    tm = TaskManager(include_defaults=False, include_path=str(task_dir()),
                     metadata={"data": str(write_jsonl(tmp_path / "ok.jsonl", RATINGS)), "criteria": ["plot"]})  # fmt: skip
    with pytest.raises(BenchDataError, match=r"ok.jsonl:1: human.plot: missing"):
        tm.load(["cqa_human_ratings"])
    with pytest.raises(ValueError, match="--metadata"):
        task_manager.load(["cqa_human_pairs"])


def test_undefined_scores_drop_out_of_their_statistic():
    """A file whose texts all answer one prompt has no Y': the contrast is undefined (NaN), the rest is not."""
    records = [{"id": f"t{k}", "prompt": "P", "text": f"text {k}", "lang": "en", "human": {"c": float(k)},
                "foreign_prompt": None, "foreign_id": None} for k in range(3)]  # fmt: skip
    items = [human_metric.rating_results(r, [-5.0 - k, -9.0], ["c"]) for k, r in enumerate(records)]
    tau = human_metric.AGGREGATIONS["cqa_kendall_tau_b"]
    assert math.isnan(tau([it["tau:contrast:c"] for it in items]))
    assert tau([it["tau:i:c"] for it in items]) == pytest.approx(-1.0)


def test_one_run_takes_both_files(tmp_path):
    """--metadata is shared by the tasks of a run: pairs_data / ratings_data name each task's file."""
    from lm_eval.tasks import TaskManager

    from cqa_tasks.data import task_dir

    pairs, ratings = write_jsonl(tmp_path / "p.jsonl", PAIRS), write_jsonl(tmp_path / "r.jsonl", RATINGS)
    metadata = {"pairs_data": str(pairs), "ratings_data": str(ratings), "data": "unused.jsonl"}
    tm = TaskManager(include_defaults=False, include_path=str(task_dir()), metadata=metadata)
    tasks = tm.load(["cqa_human_pairs", "cqa_human_ratings"])["tasks"]
    assert tasks["cqa_human_pairs"].config.metadata["data_file"] == "p.jsonl"
    assert tasks["cqa_human_ratings"].config.metadata["data_file"] == "r.jsonl"
